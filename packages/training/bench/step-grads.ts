/**
 * Diagnostic: one plain-SGD step (lr 1) of a preset on ONNX Runtime, its gradients (parameters
 * before minus after) written as JSON, so that two checkouts' gradient graphs can be compared on the
 * real model (the float64 parity bench compares a graph with itself; this compares two graphs).
 * Feeds and random draws are seeded as in step-time.ts. BACKEND=reference runs it in float64
 * (@unias/training/testing's reference backend): the truth both checkouts' float32 can be held to.
 *
 *   tsx --conditions=@unias/source bench/step-grads.ts out.json [preset=cpu] [batch=8] [input size=224]
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { initParams } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { writeFileSync } from 'node:fs';
import { createTrainingStep, sgd } from '../src/index.js';
import { createReferenceBackend } from '../src/testing/index.js';
import { seededFeeds } from './seeded-feeds.js';
const [outPath, preset = 'cpu', batch = '8', size = '224'] = process.argv.slice(2);
if (!outPath || !isPresetName(preset)) throw new Error('usage: step-grads.ts out.json [preset] [batch] [input size]');
const graph = buildTrainingGraph(presetConfig(preset, { inputSize: Number(size) }), { batchSize: Number(batch) });
const params = initParams(graph, 0);
const trainer = await createTrainingStep({
  model: graph,
  params,
  optimizer: sgd({ lr: 1 }),
  backend: process.env['BACKEND'] === 'reference' ? createReferenceBackend() : await createOnnxBackend({ intraOpNumThreads: 2 }),
  seed: 1,
});
const feeds = seededFeeds(graph, trainer.feedNames);
await trainer.step(feeds);
const st = await trainer.getState();
const out: Record<string, number[]> = {};
for (const [name, p] of st.params) {
  const p0 = params.get(name)!.data as Float32Array;
  const p1 = p.data as Float32Array;
  out[name] = Array.from(p1, (v, i) => p0[i]! - v);
}
writeFileSync(outPath, JSON.stringify(out));
await trainer.dispose();
