/**
 * Eval-time study of a trained UniAS model (docs/accuracy.md): each level's map z-scored with the
 * mean and deviation of that level over the normal training images (pooled over classes, as a unified
 * model can; or per class), then summed. Usage:
 *   pnpm --filter @unias/cli study:calibration RUN_DIR DATA_ROOT...
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
const [H, W] = m.config.inputSize;
const L = m.config.taps.length;
async function* levelMaps(split: 'train' | 'test') {
  for await (const batch of studyBatches(ds.samples, split, [H, W])) {
    const out = await session.run({ image: batch.images as TensorData<'float32'> });
    for (let i = 0; i < batch.images.shape[0]!; i++) {
      const { maps: lv, h, w } = levelMapsAt(out, i, L);
      yield {
        lv,
        h,
        w,
        cls: batch.classNames[i]!,
        path: batch.paths[i]!,
        mask: split === 'test' ? (batch.masks.data as Uint8Array).subarray(i * H * W, (i + 1) * H * W) : undefined,
      };
    }
  }
}
// statistics: pooled over all classes (class-agnostic, what a unified model can use) and per class
type Acc = { s: number[]; q: number[]; n: number; mx: number[] };
const newAcc = (): Acc => ({ s: Array(L).fill(0), q: Array(L).fill(0), n: 0, mx: [] });
const pooled = newAcc();
const perClass = new Map<string, Acc>();
const maxes: number[][] = [];
for await (const { lv, cls } of levelMaps('train')) {
  const a = perClass.get(cls) ?? newAcc();
  perClass.set(cls, a);
  for (const acc of [pooled, a]) {
    for (let l = 0; l < L; l++)
      for (const v of lv[l]!) {
        acc.s[l]! += v;
        acc.q[l]! += v * v;
      }
    acc.n += lv[0]!.length;
  }
}
const stats = (a: Acc) =>
  a.s.map((s, l) => {
    const mu = s / a.n;
    return { mu, sd: Math.sqrt(Math.max(a.q[l]! / a.n - mu * mu, 1e-12)) };
  });
const pooledStats = stats(pooled);
console.error(JSON.stringify(pooledStats));
const z = (lv: Float32Array[], st: { mu: number; sd: number }[], idx: number[]) =>
  lv[0]!.map((_, p) => idx.reduce((acc, l) => acc + (lv[l]![p]! - st[l]!.mu) / st[l]!.sd, 0));
const zmax = (lv: Float32Array[], st: { mu: number; sd: number }[], idx: number[]) =>
  lv[0]!.map((_, p) => Math.max(...idx.map((l) => (lv[l]![p]! - st[l]!.mu) / st[l]!.sd)));
const all = [...Array(L).keys()];
const combos: Record<string, (lv: Float32Array[], cls: string) => Float32Array> = {
  product_all: (lv) => lv[0]!.map((_, p) => all.reduce((a, i) => a * lv[i]![p]!, 1)),
  zsum_all_pooled: (lv) => z(lv, pooledStats, all),
  zsum_0_1_pooled: (lv) => z(lv, pooledStats, [0, 1]),
  zsum_0_1_2_pooled: (lv) => z(lv, pooledStats, [0, 1, 2]),
  zmax_all_pooled: (lv) => zmax(lv, pooledStats, all),
  zsum_all_class: (lv, c) => z(lv, stats(perClass.get(c)!), all),
  zsum_0_1_class: (lv, c) => z(lv, stats(perClass.get(c)!), [0, 1]),
};
const accs = Object.fromEntries(Object.keys(combos).map((k) => [k, createMetricsAccumulator({})]));
for await (const { lv, h, w, cls, path, mask } of levelMaps('test')) {
  for (const [k, f] of Object.entries(combos))
    accs[k]!.add(cls, { scores: resizeMap(f(lv, cls), { width: w, height: h }, { width: W, height: H }), mask: mask!, height: H, width: W }, path);
}
await session.dispose();
printStudy(accs, { mean: true });
