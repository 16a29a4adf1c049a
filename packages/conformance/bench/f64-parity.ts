/**
 * The GPU check's training parity (small preset, batch 2, 5 SGD steps) in float64 against
 * onnxruntime's CPU provider at each graph optimisation level: which CPU setting is near the truth,
 * i.e. what the check should compare a GPU against. The float64 side is @unias/training/testing's
 * reference backend (the reference evaluator, state carried in float64 between steps); at 224x224
 * a step takes ~100 s there.
 *
 *   tsx --conditions=@unias/source bench/f64-parity.ts [size=224] [steps=5] [levels=all,basic]
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { compareTrainedParams } from '@unias/backend-onnx/testing';
import { initParams, type Backend } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { buildTrainingGraph } from '@unias/model';
import { createReferenceBackend } from '@unias/training/testing';
import { sized, trainSteps } from '../src/gpu-check.js';

/** The float64 reference backend, each run timed (a step at 224x224 takes ~100 s there). */
function timed(backend: Backend): Backend {
  return {
    ...backend,
    async prepare(graph, options) {
      const session = await backend.prepare(graph, options);
      return {
        ...session,
        async run(feeds) {
          const t0 = performance.now();
          const out = await session.run(feeds);
          console.log(`float64 step: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
          return out;
        },
      };
    },
  };
}
const refBackend = timed(createReferenceBackend());

const size = Number(process.argv[2] ?? 224);
const steps = Number(process.argv[3] ?? 5);
// The check's own graph, initial parameters, feeds and SGD steps (gpu-check.ts).
const graph = buildTrainingGraph(sized('small', size), { batchSize: 2 });
const init = initParams(graph, 0);
const run = (backend: Backend) => trainSteps(backend, graph, init, steps);
const levels = (process.argv[4] ?? 'all,basic').split(',') as Array<'all' | 'extended' | 'basic' | 'disabled'>;
const ref = await run(refBackend);
for (const level of levels) {
  const cpu = await run(await createOnnxBackend({ intraOpNumThreads: 2, graphOptimizationLevel: level }));
  const rows = compareTrainedParams(cpu.params, ref.params).ranked.slice(0, 5);
  console.log(
    `onnx-cpu (${level}) vs float64, ${size}x${size}, ${steps} steps: losses ${maxRelError(cpu.losses, ref.losses).toExponential(2)}; furthest apart: ${rows.map((r) => `${r.name} ${r.error.toExponential(2)}`).join(', ')}`,
  );
}
