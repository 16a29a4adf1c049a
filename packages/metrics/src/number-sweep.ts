/**
 * The general path for small inputs (image scores, plain arrays): sort indices by score, group exact
 * ties, feed the shared threshold sweep. O(n log n) with a comparator sort; pixel-scale float32 data
 * goes through PixelScoreStore instead.
 */
import { MetricsInputError } from './errors.js';
import { GroupBatch, type ThresholdSweep } from './threshold-sweep.js';

export interface LabelCounts {
  readonly positives: number;
  readonly negatives: number;
}

/** Checks scores (finite) and labels (0/1) of equal length; returns the label counts. */
export function checkBinaryInput(scores: ArrayLike<number>, labels: ArrayLike<number>, what = 'input'): LabelCounts {
  if (scores.length !== labels.length) throw new MetricsInputError(`${what}: ${scores.length} scores but ${labels.length} labels`);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) throw new MetricsInputError(`${what}: score ${s} at index ${i} is not finite`);
    const l = labels[i]!;
    if (l !== 0 && l !== 1) throw new MetricsInputError(`${what}: label ${l} at index ${i} is not 0 or 1`);
    positives += l;
  }
  return { positives, negatives: scores.length - positives };
}

/** Feeds the distinct scores, highest first, to `sweep`; the token is the score itself. */
export function sweepNumbers(scores: ArrayLike<number>, labels: ArrayLike<number>, sweep: ThresholdSweep): void {
  const n = scores.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => scores[b]! - scores[a]!);
  const batch = new GroupBatch(Math.max(n, 1));
  let groups = 0;
  let k = 0;
  while (k < n) {
    const value = scores[order[k]!]!;
    let neg = 0;
    let pos = 0;
    // === groups -0 with +0, as numpy's comparison does.
    while (k < n && scores[order[k]!]! === value) {
      if (labels[order[k]!] === 1) pos++;
      else neg++;
      k++;
    }
    batch.tokens[groups] = value === 0 ? 0 : value;
    batch.neg[groups] = neg;
    batch.pos[groups] = pos;
    groups++;
  }
  batch.length = groups;
  sweep.pushBatch(batch);
}
