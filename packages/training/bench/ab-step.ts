/**
 * Diagnostic: two versions of one preset's step graph timed in ONE process, their runs alternating
 * (A B, then B A, ...), so that both meet the same moments of a shared machine; separate processes
 * moved by 5-40% between minutes here, which hides a 2-3% change. The two graphs differ by an
 * environment variable that a gradient rule or the model reads while the graph is built (add one
 * for the experiment): VAR=a for the first, VAR=b for the second. Random inputs are all-ones masks
 * and uniform values, as in profile-step.ts.
 *
 *   tsx --conditions=@unias/source bench/ab-step.ts preset batch VAR a b [rounds=12] [input size]
 *
 * Prints one JSON line: every run's ms, the medians, the median of the paired ratios b/a, and the
 * ratio of the means of the faster halves (the machine's slow spells land in the slower half).
 */
import { createOnnxBackend, toOnnxModel } from '@unias/backend-onnx';
import { createRng, initParams, type TensorData } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import * as ort from 'onnxruntime-node';
import { adamw, buildStepGraph } from '../src/index.js';

const [preset = 'paper', batchArg = '1', varName, va, vb, roundsArg = '12', sizeArg] = process.argv.slice(2);
if (!isPresetName(preset) || !varName || va === undefined || vb === undefined) {
  throw new Error('usage: ab-step.ts preset batch VAR a b [rounds] [input size]');
}
const presetName = preset;
const batch = Number(batchArg);
const { sessionOptions } = await createOnnxBackend();

async function prepare(value: string) {
  process.env[varName!] = value;
  const model = buildTrainingGraph(presetConfig(presetName, sizeArg ? { inputSize: Number(sizeArg) } : {}), { batchSize: batch });
  const params = initParams(model, 0);
  const step = buildStepGraph({ model, optimizer: adamw({ lr: 1e-4 }), clipNorm: 0.1 });
  // the options every session of the ORT backend gets (2 threads, sequential, all optimisations)
  const session = await ort.InferenceSession.create(toOnnxModel(step.graph), { ...sessionOptions });
  const rng = createRng(1);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const node = step.graph.inputs.get(name) ?? step.graph.params.get(name)!;
    const p: TensorData | undefined = params.get(name);
    const size = node.shape.reduce((n, d) => n * d, 1);
    const data = p ? Float32Array.from(p.data) : rng.fillUniform(new Float32Array(size), name.startsWith('optimizer') ? 0.5 : -1, 1);
    const spec = step.graph.random.get(name);
    if (spec?.kind === 'dropout' || spec?.kind === 'bernoulli') data.fill(1);
    if (name.includes('exp_avg')) data.fill(0);
    feeds[name] = new ort.Tensor('float32', data, [...node.shape]);
  }
  return { session, feeds, nodes: step.graph.nodes.length };
}

const median = (xs: readonly number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1]!;
const fasterHalfMean = (xs: readonly number[]) => {
  const half = [...xs].sort((p, q) => p - q).slice(0, Math.ceil(xs.length / 2));
  return half.reduce((s, x) => s + x, 0) / half.length;
};

const a = await prepare(va);
const b = await prepare(vb);
const ms: { a: number[]; b: number[] } = { a: [], b: [] };
const rounds = Number(roundsArg);
for (let i = 0; i < rounds + 2; i++) {
  for (const which of i % 2 ? (['b', 'a'] as const) : (['a', 'b'] as const)) {
    const s = which === 'a' ? a : b;
    const t = performance.now();
    await s.session.run(s.feeds);
    if (i >= 2) ms[which].push(performance.now() - t); // two warm-up rounds
  }
}
await a.session.release();
await b.session.release();
const round3 = (x: number) => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    preset,
    batch,
    variable: varName,
    a: va,
    b: vb,
    step_graph_nodes: [a.nodes, b.nodes],
    ms_a: ms.a.map(Math.round),
    ms_b: ms.b.map(Math.round),
    median_a: Math.round(median(ms.a)),
    median_b: Math.round(median(ms.b)),
    median_paired_ratio_b_over_a: round3(median(ms.a.map((x, i) => ms.b[i]! / x))),
    faster_half_ratio_b_over_a: round3(fasterHalfMean(ms.b) / fasterHalfMean(ms.a)),
  })}\n`,
);
