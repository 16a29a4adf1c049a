/**
 * Eval-time study (docs/accuracy.md): a trained UniAS model and a knn model fitted on the same
 * backbone, input size and images, each map alone and combined (product; sum of maps z-scored with
 * statistics of the normal training images). Usage:
 *   pnpm --filter @unias/cli study:ensemble UNIAS_RUN KNN_RUN DATA_ROOT...
 */
import { resolve } from 'node:path';
import { loadDatasets, createBatchLoader, createSampleReader } from '@unias/datasets';
import { bindWeights, buildInferenceGraph } from '@unias/model';
import { createMetricsAccumulator } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import { openBackend } from '../src/engine/backend.js';
import { loadStoredModel } from '../src/engine/model-store.js';

// paths as the caller typed them (pnpm --filter runs this in apps/cli; INIT_CWD is where pnpm was called)
const [uPath, kPath, ...roots] = process.argv.slice(2).map((p) => resolve(process.env['INIT_CWD'] ?? process.cwd(), p));
const models = [await loadStoredModel(uPath!), await loadStoredModel(kPath!)];
const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
const backend = await openBackend('onnx', { threads: null });
const sessions = await Promise.all(models.map(async (m) => { const g = buildInferenceGraph(m.config); return backend.prepare(g, { params: bindWeights(g, m.params), dynamicBatch: true }); }));
const [H, W] = models[0]!.config.inputSize;
const reader = createSampleReader({ size: { width: W, height: H }, normalize: 'none' });
async function* maps(split: 'train' | 'test') {
  const loader = createBatchLoader({ samples: ds.samples.filter((s) => s.split === split), reader, batchSize: 8, shuffle: false, maskDtype: 'uint8' });
  for await (const batch of loader.epoch()) {
    const outs = await Promise.all(sessions.map((s) => s.run({ image: batch.images as TensorData<'float32'> })));
    for (let i = 0; i < batch.images.shape[0]!; i++) {
      const mm = outs.map((o) => Float32Array.from((o['anomaly_map']!.data as Float32Array).subarray(i * H * W, (i + 1) * H * W)));
      yield { mm, cls: batch.classNames[i]!, path: batch.paths[i]!, mask: split === 'test' ? (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W) : undefined };
    }
  }
}
const s = [0, 0], q = [0, 0];
let n = 0;
for await (const { mm } of maps('train')) {
  for (let k = 0; k < 2; k++) for (const v of mm[k]!) { s[k]! += v; q[k]! += v * v; }
  n += mm[0]!.length;
}
const st = s.map((x, k) => ({ mu: x / n, sd: Math.sqrt(q[k]! / n - (x / n) ** 2) }));
console.error(JSON.stringify(st));
const combos: Record<string, (mm: Float32Array[]) => Float32Array> = {
  unias: (mm) => mm[0]!,
  knn: (mm) => mm[1]!,
  product: (mm) => mm[0]!.map((v, p) => v * mm[1]![p]!),
  zsum: (mm) => mm[0]!.map((v, p) => (v - st[0]!.mu) / st[0]!.sd + (mm[1]![p]! - st[1]!.mu) / st[1]!.sd),
};
const accs = Object.fromEntries(Object.keys(combos).map((k) => [k, createMetricsAccumulator({})]));
for await (const { mm, cls, path, mask } of maps('test')) for (const [k, f] of Object.entries(combos)) accs[k]!.add(cls, { scores: f(mm), mask: mask!, height: H, width: W }, path);
for (const [k, a] of Object.entries(accs)) {
  const r = a.compute();
  for (const [cls, v] of Object.entries(r.classes)) console.log(JSON.stringify({ combo: k, cls, pixel_auroc: v.pixel_auroc, pixel_ap: v.pixel_ap, image_auroc: v.image_auroc }));
  console.log(JSON.stringify({ combo: k, cls: 'MEAN', pixel_auroc: r.mean.pixel_auroc, pixel_ap: r.mean.pixel_ap, image_auroc: r.mean.image_auroc }));
}
