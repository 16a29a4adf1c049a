/**
 * Eval-time study of a trained UniAS model (docs/accuracy.md): the size of each decoder level's
 * loss terms on normal training images, per class: the MSE, the cosine distance (1 - mean cos),
 * and the mean square of the target (what the MSE of a zero reconstruction would be). The training
 * loss is weight * sum over levels of (MSE + cosine distance) while the anomaly map is cosine only,
 * so this shows which term and which level the optimiser is mostly pushed by. Usage:
 *   pnpm --filter @unias/cli study:loss RUN_DIR DATA_ROOT... [--per-class N]
 */
import { loadDatasets } from '@unias/datasets';
import type { TensorData } from '@unias/graph';
import { loadStoredModel } from '@unias/detector';
import { openStudySession, studyPaths, studyBatches } from './study-support.js';

// `--per-class N` (default 16): how many training images of each class are read
const perClassAt = process.argv.indexOf('--per-class');
const perClass = perClassAt > 0 ? Number(process.argv[perClassAt + 1]) : 16;
if (perClassAt > 0) process.argv.splice(perClassAt, 2);
const [modelPath, ...roots] = studyPaths();
const m = await loadStoredModel(modelPath!);
const ds = await loadDatasets(roots.map((root) => ({ format: 'mvtec' as const, root })));
const session = await openStudySession(m, { debugOutputs: true });
const L = m.config.taps.length;
const taps = m.config.taps.map((t) => t.name);

type Sums = { n: number; mse: number[]; cosDist: number[]; targetSq: number[] };
const sums = new Map<string, Sums>();
// the first perClass training images of each class
const taken = new Map<string, number>();
const samples = ds.samples.filter((s) => {
  if (s.split !== 'train') return false;
  const k = (taken.get(s.className) ?? 0) + 1;
  taken.set(s.className, k);
  return k <= perClass;
});
for await (const batch of studyBatches(samples, 'train', m.config.inputSize)) {
  const out = await session.run({ image: batch.images as TensorData<'float32'> });
  const n = batch.images.shape[0]!;
  for (let i = 0; i < n; i++) {
    const cls = batch.classNames[i]!;
    const s = sums.get(cls) ?? { n: 0, mse: Array(L).fill(0), cosDist: Array(L).fill(0), targetSq: Array(L).fill(0) };
    for (let l = 0; l < L; l++) {
      // recon.<l> is coarsest first; the targets are named by tap, finest first
      const r = out[`recon.${l}`]!;
      const t = out[`target.${taps[L - 1 - l]}`]!;
      const [, C, h, w] = r.shape as number[];
      const hw = h! * w!;
      const rd = (r.data as Float32Array).subarray(i * C! * hw, (i + 1) * C! * hw);
      const td = (t.data as Float32Array).subarray(i * C! * hw, (i + 1) * C! * hw);
      let se = 0;
      let tsq = 0;
      let cos = 0;
      for (let p = 0; p < hw; p++) {
        let dot = 0;
        let rr = 0;
        let tt = 0;
        for (let c = 0; c < C!; c++) {
          const a = rd[c * hw + p]!;
          const b = td[c * hw + p]!;
          se += (a - b) * (a - b);
          dot += a * b;
          rr += a * a;
          tt += b * b;
        }
        tsq += tt;
        cos += dot / Math.max(Math.sqrt(rr) * Math.sqrt(tt), 1e-8);
      }
      s.mse[l]! += se / (C! * hw);
      s.targetSq[l]! += tsq / (C! * hw);
      s.cosDist[l]! += 1 - cos / hw;
    }
    s.n++;
    sums.set(cls, s);
  }
}
await session.dispose();
for (const [cls, s] of [...sums].sort()) {
  for (let l = 0; l < L; l++) {
    console.log(
      JSON.stringify({
        cls,
        level: l,
        tap: taps[L - 1 - l],
        images: s.n,
        mse: s.mse[l]! / s.n,
        cos_distance: s.cosDist[l]! / s.n,
        target_mean_square: s.targetSq[l]! / s.n,
      }),
    );
  }
}
