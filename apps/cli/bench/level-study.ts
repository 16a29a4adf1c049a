/**
 * Eval-time study of a trained UniAS model (docs/accuracy.md): metrics of each decoder level's map
 * and of combinations (the official product, sums, subsets, without the per-level Gaussian), from
 * the same forward pass; one JSON line per combination and class. Usage:
 *   pnpm --filter @unias/cli study:levels RUN_DIR DATA_ROOT...
 */
import { resolve } from 'node:path';
import { loadDatasets, createBatchLoader, createSampleReader } from '@unias/datasets';
import { bindWeights, buildInferenceGraph } from '@unias/model';
import { createMetricsAccumulator } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import { openBackend } from '../src/engine/backend.js';
import { loadStoredModel } from '../src/engine/model-store.js';
import { resizeMap } from '../src/report/heatmap.js';

// paths as the caller typed them (pnpm --filter runs this in apps/cli; INIT_CWD is where pnpm was called)
const [modelPath, ...roots] = process.argv.slice(2).map((p) => resolve(process.env['INIT_CWD'] ?? process.cwd(), p));
const m = await loadStoredModel(modelPath!);
const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
const backend = await openBackend('onnx', { threads: null });
const graph = buildInferenceGraph(m.config, { debugOutputs: true });
const session = await backend.prepare(graph, { params: bindWeights(graph, m.params), dynamicBatch: true });
// the same model without the per-level Gaussian (an eval-time switch: no retraining)
const raw = buildInferenceGraph({ ...m.config, postGaussian: false }, { debugOutputs: true });
const rawSession = await backend.prepare(raw, { params: bindWeights(raw, m.params), dynamicBatch: true });
const [H, W] = m.config.inputSize;
const L = m.config.taps.length;
const combos: Record<string, (lv: Float32Array[]) => Float32Array> = {};
const prod = (idx: number[]) => (lv: Float32Array[]) => lv[idx[0]!]!.map((_, p) => idx.reduce((a, i) => a * lv[i]![p]!, 1));
const sum = (idx: number[]) => (lv: Float32Array[]) => lv[idx[0]!]!.map((_, p) => idx.reduce((a, i) => a + lv[i]![p]!, 0));
for (let i = 0; i < L; i++) combos[`level${i}`] = (lv) => lv[i]!;
combos['product_all'] = prod([...Array(L).keys()]);
combos['sum_all'] = sum([...Array(L).keys()]);
if (L >= 2) {
  combos['product_0_1'] = prod([0, 1]);
  combos['sum_0_1'] = sum([0, 1]);
}
if (L >= 3) {
  combos['product_0_1_2'] = prod([0, 1, 2]);
  combos['sum_0_1_2'] = sum([0, 1, 2]);
  combos['product_1_2_3'] = prod([1, 2, 3].filter((i) => i < L));
}
const rawCombos: Record<string, (lv: Float32Array[]) => Float32Array> = { no_post_gaussian_product_all: prod([...Array(L).keys()]), ...(L >= 2 ? { no_post_gaussian_product_0_1: prod([0, 1]) } : {}) };
const accs = Object.fromEntries([...Object.keys(combos), ...Object.keys(rawCombos)].map((k) => [k, createMetricsAccumulator({})]));
const test = ds.samples.filter((s) => s.split === 'test');
const loader = createBatchLoader({ samples: test, reader: createSampleReader({ size: { width: W, height: H }, normalize: 'none' }), batchSize: 8, shuffle: false, maskDtype: 'uint8' });
for await (const batch of loader.epoch()) {
  const out = await session.run({ image: batch.images as TensorData<'float32'> });
  const outRaw = await rawSession.run({ image: batch.images as TensorData<'float32'> });
  const n = batch.images.shape[0]!;
  const lvShape = out['level_map.0']!.shape;
  const [h, w] = [lvShape[2]!, lvShape[3]!];
  for (let i = 0; i < n; i++) {
    const lv = [...Array(L).keys()].map((l) => Float32Array.from((out[`level_map.${l}`]!.data as Float32Array).subarray(i * h * w, (i + 1) * h * w)));
    const mask = (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W);
    for (const [k, f] of Object.entries(combos)) accs[k]!.add(batch.classNames[i]!, { scores: resizeMap(f(lv), h, w, H, W), mask, height: H, width: W }, batch.paths[i]!);
    const lvRaw = [...Array(L).keys()].map((l) => Float32Array.from((outRaw[`level_map.${l}`]!.data as Float32Array).subarray(i * h * w, (i + 1) * h * w)));
    for (const [k, f] of Object.entries(rawCombos)) accs[k]!.add(batch.classNames[i]!, { scores: resizeMap(f(lvRaw), h, w, H, W), mask, height: H, width: W }, batch.paths[i]!);
  }
}
await session.dispose();
await rawSession.dispose();
for (const [k, a] of Object.entries(accs)) {
  const r = a.compute();
  for (const [cls, v] of Object.entries(r.classes)) console.log(JSON.stringify({ combo: k, cls, pixel_auroc: v.pixel_auroc, pixel_ap: v.pixel_ap, image_auroc: v.image_auroc }));
}
