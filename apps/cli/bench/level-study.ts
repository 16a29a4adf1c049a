/**
 * Eval-time study of a trained UniAS model (docs/accuracy.md): metrics of each decoder level's map
 * and of combinations (the official product, sums, subsets, without the per-level Gaussian), from
 * the same forward pass; one JSON line per combination and class. Usage:
 *   pnpm --filter @unias/cli study:levels RUN_DIR DATA_ROOT...
 */
import { loadDatasets } from '@unias/datasets';
import { createMetricsAccumulator } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import { loadStoredModel } from '@unias/detector';
import { resizeMap } from '@unias/image';
import { levelMapsAt, openStudySession, printStudy, studyPaths, studyBatches } from './study-support.js';

const [modelPath, ...roots] = studyPaths();
const m = await loadStoredModel(modelPath!);
const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
const session = await openStudySession(m, { debugOutputs: true });
// the same model without the per-level Gaussian (an eval-time switch: no retraining)
const rawSession = await openStudySession(m, { debugOutputs: true, postGaussian: false });
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
const rawCombos: Record<string, (lv: Float32Array[]) => Float32Array> = {
  no_post_gaussian_product_all: prod([...Array(L).keys()]),
  ...(L >= 2 ? { no_post_gaussian_product_0_1: prod([0, 1]) } : {}),
};
const accs = Object.fromEntries([...Object.keys(combos), ...Object.keys(rawCombos)].map((k) => [k, createMetricsAccumulator({})]));
for await (const batch of studyBatches(ds.samples, 'test', [H, W])) {
  const out = await session.run({ image: batch.images as TensorData<'float32'> });
  const outRaw = await rawSession.run({ image: batch.images as TensorData<'float32'> });
  const n = batch.images.shape[0]!;
  for (let i = 0; i < n; i++) {
    const { maps: lv, h, w } = levelMapsAt(out, i, L);
    const mask = (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W);
    for (const [k, f] of Object.entries(combos))
      accs[k]!.add(
        batch.classNames[i]!,
        { scores: resizeMap(f(lv), { width: w, height: h }, { width: W, height: H }), mask, height: H, width: W },
        batch.paths[i]!,
      );
    const lvRaw = levelMapsAt(outRaw, i, L).maps;
    for (const [k, f] of Object.entries(rawCombos))
      accs[k]!.add(
        batch.classNames[i]!,
        { scores: resizeMap(f(lvRaw), { width: w, height: h }, { width: W, height: H }), mask, height: H, width: W },
        batch.paths[i]!,
      );
  }
}
await session.dispose();
await rawSession.dispose();
printStudy(accs);
