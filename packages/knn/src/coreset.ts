/**
 * Greedy coreset selection (k-center greedy, as PatchCore subsamples its memory bank): repeatedly
 * take the point farthest from everything taken so far, so the kept patches cover the whole
 * feature space instead of its dense regions. Distances are computed in a random projection
 * (Johnson-Lindenstrauss) to keep the O(points x kept) loop affordable in JS.
 */
import { createRng } from '@unias/graph';

export interface CoresetOptions {
  /** Dimensions of the random projection (0 = use the features as they are). Default 32. */
  readonly projectDim?: number;
  readonly seed?: number;
  /** Called now and then with (kept, wanted). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * points: [count, dim] row-major. Returns `k` distinct row indices in the order they were taken
 * (the first is a seeded random row).
 */
export function greedyCoreset(points: Float32Array, count: number, dim: number, k: number, o: CoresetOptions = {}): Int32Array {
  if (points.length !== count * dim) throw new Error(`coreset: ${points.length} values are not ${count} x ${dim}`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`coreset: k must be a positive integer, got ${k}`);
  if (k >= count) return Int32Array.from({ length: count }, (_, i) => i);
  const rng = createRng(o.seed ?? 0);
  const pd = o.projectDim ?? 32;
  let proj = points;
  let d = dim;
  if (pd > 0 && pd < dim) {
    const r = rng.fillNormal(new Float32Array(dim * pd), 0, 1 / Math.sqrt(pd));
    proj = new Float32Array(count * pd);
    for (let i = 0; i < count; i++) {
      const row = i * dim;
      const out = i * pd;
      for (let c = 0; c < dim; c++) {
        const v = points[row + c]!;
        if (v === 0) continue;
        const rr = c * pd;
        for (let j = 0; j < pd; j++) proj[out + j]! += v * r[rr + j]!;
      }
    }
    d = pd;
  }
  const minDist = new Float32Array(count).fill(Infinity);
  const chosen = new Int32Array(k);
  let next = rng.int(count);
  const every = Math.max(1, Math.floor(k / 50));
  for (let t = 0; t < k; t++) {
    chosen[t] = next;
    const base = next * d;
    let best = -1;
    let bestD = -1;
    for (let i = 0; i < count; i++) {
      let s = 0;
      const row = i * d;
      for (let j = 0; j < d; j++) {
        const diff = proj[row + j]! - proj[base + j]!;
        s += diff * diff;
      }
      const m = s < minDist[i]! ? (minDist[i] = s) : minDist[i]!;
      if (m > bestD) {
        bestD = m;
        best = i;
      }
    }
    next = best;
    if (o.onProgress && (t + 1) % every === 0) o.onProgress(t + 1, k);
  }
  return chosen;
}
