/**
 * Eval-time study (docs/accuracy.md): a trained UniAS model and a knn model fitted on the same
 * backbone, input size and images, each map alone and combined (product; sum of maps z-scored with
 * statistics of the normal training images). Usage:
 *   pnpm --filter @unias/cli study:ensemble UNIAS_RUN KNN_RUN DATA_ROOT...
 */
import { loadDatasets } from '@unias/datasets';
import { createMetricsAccumulator } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import { loadStoredModel } from '@unias/detector';
import { openStudySession, printStudy, studyPaths, studyBatches } from './study-support.js';

const [uPath, kPath, ...roots] = studyPaths();
const models = [await loadStoredModel(uPath!), await loadStoredModel(kPath!)];
const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
const sessions = await Promise.all(models.map((m) => openStudySession(m)));
const [H, W] = models[0]!.config.inputSize;
async function* maps(split: 'train' | 'test') {
  for await (const batch of studyBatches(ds.samples, split, [H, W])) {
    const outs = await Promise.all(sessions.map((s) => s.run({ image: batch.images as TensorData<'float32'> })));
    for (let i = 0; i < batch.images.shape[0]!; i++) {
      const mm = outs.map((o) => Float32Array.from((o['anomaly_map']!.data as Float32Array).subarray(i * H * W, (i + 1) * H * W)));
      yield {
        mm,
        cls: batch.classNames[i]!,
        path: batch.paths[i]!,
        mask: split === 'test' ? (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W) : undefined,
      };
    }
  }
}
const s = [0, 0],
  q = [0, 0];
let n = 0;
for await (const { mm } of maps('train')) {
  for (let k = 0; k < 2; k++)
    for (const v of mm[k]!) {
      s[k]! += v;
      q[k]! += v * v;
    }
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
for await (const { mm, cls, path, mask } of maps('test'))
  for (const [k, f] of Object.entries(combos)) accs[k]!.add(cls, { scores: f(mm), mask: mask!, height: H, width: W }, path);
printStudy(accs, { mean: true });
