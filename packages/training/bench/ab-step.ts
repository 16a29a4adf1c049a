/**
 * Diagnostic: two versions of one preset's step graph timed in ONE process, their runs alternating
 * (A B, then B A, ...), so that both meet the same moments of a shared machine; separate processes
 * moved by 5-40% between minutes here, which hides a 2-3% change. The two graphs differ by an
 * environment variable that a gradient rule or the model reads while the graph is built (add one
 * for the experiment): VAR=a for the first, VAR=b for the second. VAR=NCHWC instead compares
 * lowerings: a and b are blocks of the blocked convolutions (0: plain Conv). Otherwise both are
 * lowered as the ONNX backend lowers them here. Random inputs are all-ones masks and uniform values,
 * as in profile-step.ts.
 *
 *   tsx --conditions=@unias/source bench/ab-step.ts preset batch VAR a b [rounds=12] [input size]
 *
 * Prints one JSON line: every run's ms, the medians, the median of the paired ratios b/a, and the
 * ratio of the means of the faster halves (the machine's slow spells land in the slower half).
 * PROFILE=dir also runs both under ORT's profiler and adds each one's kernel time (the sum over
 * nodes of each node's median over the timed runs: it moves much less than wall time) and the op
 * kinds whose kernel time differs most.
 */
import { createOnnxBackend, toOnnxModel } from '@unias/backend-onnx';
import { createRng, initParams, type TensorData } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { adamw, buildStepGraph } from '../src/index.js';
import { readKernelEvents } from './ort-profile.js';

const [preset = 'paper', batchArg = '1', varName, va, vb, roundsArg = '12', sizeArg] = process.argv.slice(2);
if (!isPresetName(preset) || !varName || va === undefined || vb === undefined) {
  throw new Error('usage: ab-step.ts preset batch VAR a b [rounds] [input size]');
}
const presetName = preset;
const batch = Number(batchArg);

const backend = await createOnnxBackend();
const { sessionOptions } = backend;
// lowered as the backend lowers (blocked convolutions where they run); VAR=NCHWC compares lowerings
// instead: its value is the block of the blocked convolutions (0: none)
const block = await backend.blockedConvBlock();
const lowering = (value: string) => {
  const b = varName === 'NCHWC' ? Number(value) || undefined : block;
  return b !== undefined ? { nchwcBlock: b } : {};
};

async function prepare(value: string) {
  process.env[varName!] = value;
  const model = buildTrainingGraph(presetConfig(presetName, sizeArg ? { inputSize: Number(sizeArg) } : {}), { batchSize: batch });
  const params = initParams(model, 0);
  const step = buildStepGraph({ model, optimizer: adamw({ lr: 1e-4 }), clipNorm: 0.1 });
  // the options every session of the ORT backend gets (2 threads, sequential, all optimisations)
  const profileDir = process.env['PROFILE'] ? join(process.env['PROFILE'], value) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const profiling = profileDir ? { enableProfiling: true, profileFilePrefix: join(profileDir, 'step') } : {};
  const session = await ort.InferenceSession.create(toOnnxModel(step.graph, lowering(value)), { ...sessionOptions, ...profiling });
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
  return { session, feeds, nodes: step.graph.nodes.length, profileDir };
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
/** Kernel ms per op kind and in all: each node's median over the runs after the two warm-up ones. */
function kernelTime(dir: string): { total: number; byOp: Map<string, number> } {
  const perNode = new Map<string, { op: string; durs: number[] }>();
  for (const { node, op, dur } of readKernelEvents(dir, 2)) {
    const entry = perNode.get(node) ?? { op, durs: [] };
    entry.durs.push(dur);
    perNode.set(node, entry);
  }
  const byOp = new Map<string, number>();
  let total = 0;
  for (const { op, durs } of perNode.values()) {
    const m = median(durs) / 1000;
    total += m;
    byOp.set(op, (byOp.get(op) ?? 0) + m);
  }
  return { total, byOp };
}
if (a.profileDir) a.session.endProfiling();
if (b.profileDir) b.session.endProfiling();
await a.session.release();
await b.session.release();
const profiled = a.profileDir && b.profileDir ? { a: kernelTime(a.profileDir), b: kernelTime(b.profileDir) } : undefined;
const opDiffs = profiled
  ? [...new Set([...profiled.a.byOp.keys(), ...profiled.b.byOp.keys()])]
      .map((op) => [op, (profiled.b.byOp.get(op) ?? 0) - (profiled.a.byOp.get(op) ?? 0)] as const)
      .sort((p, q) => Math.abs(q[1]) - Math.abs(p[1]))
      .slice(0, 8)
      .map(([op, d]) => `${op} ${d > 0 ? '+' : ''}${d.toFixed(2)}`)
  : undefined;
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
    ...(profiled
      ? {
          kernel_ms_a: round3(profiled.a.total),
          kernel_ms_b: round3(profiled.b.total),
          kernel_ratio_b_over_a: round3(profiled.b.total / profiled.a.total),
          kernel_ms_b_minus_a_by_op: opDiffs,
        }
      : {}),
  })}\n`,
);
