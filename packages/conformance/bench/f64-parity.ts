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
import { createRng, initParams, sizeOf, type Backend, type Graph, type PrepareOptions, type Session, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError, toRef, type RefTensor } from '@unias/graph/testing';
import { buildTrainingGraph, presetConfig } from '@unias/model';
import { createTrainingStep, sgd } from '@unias/training';

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
const graph = buildTrainingGraph(presetConfig('small', { inputSize: size, ...(size < 112 ? { neighbourSize: 3 } : {}) }), { batchSize: 2 });
const init = initParams(graph, 0);
const uniformTensor = (shape: readonly number[], seed: number): TensorData => ({
  dtype: 'float32',
  shape: [...shape],
  data: createRng(seed).fillUniform(new Float32Array(sizeOf(shape)), -1, 1),
});
async function run(backend: Backend) {
  const trainer = await createTrainingStep({
    model: graph,
    params: init,
    optimizer: sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }),
    clipNorm: 0.1,
    backend,
    seed: 1,
  });
  const feeds: Record<string, TensorData> = {};
  trainer.feedNames.forEach((n, i) => (feeds[n] = uniformTensor(graph.inputs.get(n)!.shape, 10 + i)));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push((await trainer.step(feeds)).loss);
  const { params } = await trainer.getState();
  await trainer.dispose();
  return { losses, params };
}
const levels = (process.argv[4] ?? 'all,basic').split(',') as Array<'all' | 'extended' | 'basic' | 'disabled'>;
const ref = await run(refBackend);
for (const level of levels) {
  const cpu = await run(await createOnnxBackend({ intraOpNumThreads: 2, graphOptimizationLevel: level }));
  const rows = [...cpu.params.keys()]
    .map((n) => ({ n, e: compareTrainedParams(new Map([[n, cpu.params.get(n)!]]), new Map([[n, ref.params.get(n)!]])).worst }))
    .sort((a, b) => b.e - a.e)
    .slice(0, 5);
  console.log(
    `onnx-cpu (${level}) vs float64, ${size}x${size}, ${steps} steps: losses ${maxRelError(cpu.losses, ref.losses).toExponential(2)}; furthest apart: ${rows.map((r) => `${r.n} ${r.e.toExponential(2)}`).join(', ')}`,
  );
}
