/**
 * The GPU check's training parity (small preset, batch 2, 5 SGD steps) in float64 against
 * onnxruntime's CPU provider at each graph optimisation level: which CPU setting is near the truth,
 * i.e. what the check should compare a GPU against. The float64 side is @unias/graph/testing's
 * reference evaluator behind a Backend (state carried in float64 between steps); at 224x224 a step
 * takes ~100 s there.
 *
 *   tsx --conditions=@unias/source bench/f64-parity.ts [size=224] [steps=5] [levels=all,basic]
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { compareTrainedParams } from '@unias/backend-onnx/testing';
import { initParams, type Backend, type Graph, type PrepareOptions, type Session, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError, toRef, type RefTensor } from '@unias/graph/testing';
import { buildTrainingGraph } from '@unias/model';
import { sized, trainSteps } from '../src/gpu-check.js';

const f32 = (t: RefTensor): TensorData => ({ dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.data) });
const refBackend: Backend = {
  name: 'reference-f64',
  async prepare(graph: Graph, o: PrepareOptions = {}): Promise<Session> {
    const carry = o.carry ?? {};
    const carriedIn = new Set(Object.values(carry));
    const bound = o.params ?? new Map();
    const inputNames = [...graph.inputs.keys(), ...[...graph.params.keys()].filter((p) => !bound.has(p))].filter((n) => !carriedIn.has(n));
    const returned = o.outputs ?? [...graph.outputs.keys()].filter((n) => !(n in carry));
    const state = new Map<string, RefTensor>();
    return {
      backend: 'reference-f64',
      inputNames,
      outputNames: [...returned],
      async run(feeds) {
        const all: Record<string, TensorData | RefTensor> = { ...feeds };
        for (const [k, v] of state) all[k] = v;
        const t0 = performance.now();
        const out = evaluateReference(graph, all, { params: bound, outputs: [...returned, ...Object.keys(carry)] });
        console.log(`float64 step: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        for (const [o2, i] of Object.entries(carry)) state.set(i, out[o2]!);
        return Object.fromEntries(returned.map((n) => [n, f32(out[n]!)]));
      },
      async setState(values) {
        for (const [k, v] of Object.entries(values)) state.set(k, toRef(v));
      },
      async getState() {
        return Object.fromEntries([...state].map(([k, v]) => [k, f32(v)]));
      },
      async dispose() {},
    };
  },
};

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
