/**
 * Diagnostic: the same training step with params and moments carried flat (one vector per
 * weight-decay group) or per param, interleaved step by step on ONNX Runtime (stderr).
 *
 *   tsx --conditions=@unias/source bench/layout-compare.ts [preset (default cpu)] [steps]
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createRng, initParams, sizeOf, type TensorData } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { adamw, createTrainingStep } from '../src/index.js';

async function main(): Promise<void> {
  const preset = process.argv[2] ?? 'cpu';
  const steps = Number(process.argv[3] ?? 6);
  if (!isPresetName(preset)) throw new Error(`unknown preset ${preset}`);
  const graph = buildTrainingGraph(presetConfig(preset), { batchSize: 2 });
  const params = initParams(graph, 0);
  const backend = await createOnnxBackend();
  const make = (layout: 'flat' | 'per-param') =>
    createTrainingStep({
      model: graph,
      params,
      optimizer: adamw({ lr: 1e-4, weightDecay: (n) => (n.endsWith('.bias') ? 0 : 1e-4) }),
      clipNorm: 0.1,
      backend,
      seed: 1,
      layout,
    });
  const trainers = { flat: await make('flat'), 'per-param': await make('per-param') };
  const rng = createRng(2);
  const feeds: Record<string, TensorData> = {};
  for (const n of trainers.flat.feedNames) {
    const node = graph.inputs.get(n)!;
    feeds[n] = { dtype: 'float32', shape: node.shape, data: rng.fillUniform(new Float32Array(sizeOf(node.shape)), -1, 1) };
  }
  const times: Record<string, number[]> = { flat: [], 'per-param': [] };
  for (let i = 0; i <= steps; i++)
    for (const [name, t] of Object.entries(trainers)) {
      const s = performance.now();
      const r = await t.step(feeds);
      if (i > 0) times[name]!.push(performance.now() - s);
      if (i === steps) process.stderr.write(`${name}: loss ${r.loss}\n`);
    }
  for (const [name, ts] of Object.entries(times)) {
    const med = [...ts].sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
    process.stderr.write(`${preset} ${name.padEnd(9)} ${trainers[name as 'flat'].graph.nodes.length} nodes, median step ${med.toFixed(0)} ms\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
