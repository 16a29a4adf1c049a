/**
 * Where the time of one ORT training step goes: runs the block's step graph with ONNX Runtime's
 * profiler and prints the slowest node kinds and nodes (stderr) — a diagnostic, not a benchmark.
 *
 *   tsx --conditions=@unias/source bench/profile-step.ts [out-dir] [preset (default: the bench block)] [batch (default 2)] [input size]
 */
import { createOnnxBackend, toOnnxModel } from '@unias/backend-onnx';
import { createGraph, createRng, initParams, type Graph, type TensorData } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { adamw, buildStepGraph, LOSS_OUTPUT } from '../src/index.js';
import { block } from './block.js';
import { readKernelEvents } from './ort-profile.js';

async function main(): Promise<void> {
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'unias-profile-'));
  mkdirSync(dir, { recursive: true });
  const preset = process.argv[3];
  let model: Graph;
  if (preset) {
    if (!isPresetName(preset)) throw new Error(`unknown preset ${preset}`);
    const batch = Number(process.argv[4] ?? 2);
    const size = process.argv[5] ? { inputSize: Number(process.argv[5]) } : {};
    model = buildTrainingGraph(presetConfig(preset, size), { batchSize: batch });
  } else {
    const g = createGraph({ training: true });
    g.output(LOSS_OUTPUT, block(g));
    model = g.build();
  }
  const params = initParams(model, 0);
  const step = buildStepGraph({ model, optimizer: adamw({ lr: 1e-3 }), clipNorm: 1 });
  // lowered as the ORT backend lowers it on the CPU provider (blocked convolutions where they run)
  const nchwc = await (await createOnnxBackend()).blockedConvBlock();
  const bytes = toOnnxModel(step.graph, nchwc !== undefined ? { nchwcBlock: nchwc } : {});
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: Number(process.env['THREADS'] ?? 2),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: join(dir, 'step'),
    logSeverityLevel: 3,
  });
  const rng = createRng(1);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const node = step.graph.inputs.get(name) ?? step.graph.params.get(name)!;
    const p: TensorData | undefined = params.get(name);
    const spec = step.graph.random.get(name);
    const size = node.shape.reduce((a, b) => a * b, 1);
    const data = p ? Float32Array.from(p.data) : rng.fillUniform(new Float32Array(size), name.startsWith('optimizer') ? 0.5 : -1, 1);
    if (spec?.kind === 'dropout' || spec?.kind === 'bernoulli') data.fill(1);
    if (name.includes('exp_avg')) data.fill(0);
    feeds[name] = new ort.Tensor('float32', data, [...node.shape]);
  }
  const warmup = 2;
  const runs = 4;
  for (let i = 0; i < warmup + runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    process.stderr.write(`run ${i}: ${(performance.now() - t).toFixed(1)} ms\n`);
  }
  session.endProfiling();
  await session.release();
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  for (const { node, op, dur } of readKernelEvents(dir, warmup)) {
    byOp.set(op, (byOp.get(op) ?? 0) + dur);
    byNode.set(`${op} ${node}`, (byNode.get(`${op} ${node}`) ?? 0) + dur);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${(v / runs / 1000).toFixed(2).padStart(8)} ms  ${k}`)
      .join('\n');
  process.stderr.write(`per run, by op type:\n${top(byOp, 25)}\n\nslowest nodes:\n${top(byNode, 30)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
