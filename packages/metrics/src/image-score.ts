/** How an anomaly map becomes one image score. */
import { MetricsInputError } from './errors.js';

export type ImageScoreRule =
  /** The maximum of the map (the UniAS evaluation). */
  | { readonly kind: 'max' }
  /** The mean of the k largest values of the map. */
  | { readonly kind: 'top-k-mean'; readonly k: number };

export function describeImageScore(rule: ImageScoreRule): string {
  return rule.kind === 'max' ? 'max' : `top-${rule.k}-mean`;
}

export function checkImageScoreRule(rule: ImageScoreRule): void {
  if (rule.kind === 'max') return;
  if (rule.kind === 'top-k-mean') {
    if (!Number.isInteger(rule.k) || rule.k < 1) throw new MetricsInputError(`image score top-k-mean: k must be an integer >= 1, got ${rule.k}`);
    return;
  }
  throw new MetricsInputError(`unknown image score rule ${JSON.stringify(rule)}`);
}

/** The image score of a map; the scores must already be known finite. */
export function imageScore(scores: Float32Array, rule: ImageScoreRule, what = 'map'): number {
  if (scores.length === 0) throw new MetricsInputError(`${what}: empty map has no image score`);
  if (rule.kind === 'max') {
    let max = -Infinity;
    for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
    return max === 0 ? 0 : max;
  }
  const k = rule.k;
  if (k > scores.length) throw new MetricsInputError(`${what}: top-k-mean with k = ${k} but the map has only ${scores.length} pixels`);
  const sorted = Float32Array.from(scores).sort();
  let sum = 0;
  for (let i = sorted.length - 1; i >= sorted.length - k; i--) sum += sorted[i]!;
  return sum / k;
}
