/**
 * The anomaly map as the official decoder builds it: per level 1 - cos(recon, target) over
 * channels at the level's own resolution, resized (bilinear, align_corners false) to the finest
 * level's size, blurred (kernel 3, 5, 7, 9 for levels 0..3, sigma = kernel / 3, reflect), multiplied
 * over levels, and upsampled (bilinear, align_corners true) to the input size. Score = max of the map.
 */
import type { GraphBuilder, Sym } from '@unias/graph';
import { gaussianBlur } from './preprocess.js';

export interface AnomalyMapOptions {
  /** [height, width] of the output map (the input image size). */
  readonly outputSize: readonly [number, number];
  /** Blur each level's map before the product (official POST_GAUSSIAN). Default true. */
  readonly postGaussian?: boolean;
  /** Levels (0 = coarsest) whose maps enter the product; default all (the official map). */
  readonly mapLevels?: readonly number[];
}

export interface AnomalyMap {
  /** [N, 1, H, W]. */
  readonly map: Sym;
  /** [N]: the maximum of the map. */
  readonly score: Sym;
  /** Per level, [N, 1, h, w] at the finest level's size (after the optional blur). */
  readonly levels: readonly Sym[];
}

/** 1 - cos over channels: [N, C, h, w] x2 -> [N, 1, h, w]. */
export function cosineDistanceMap(b: GraphBuilder, recon: Sym, target: Sym): Sym {
  return b.unsqueeze(b.sub(1, b.cosineSimilarity(recon, target, 1)), 1);
}

/** recons / targets: coarsest first (level i of the decoder). */
export function anomalyMap(b: GraphBuilder, recons: readonly Sym[], targets: readonly Sym[], o: AnomalyMapOptions): AnomalyMap {
  if (recons.length === 0 || recons.length !== targets.length) {
    throw new Error(`anomaly map: ${recons.length} reconstructions for ${targets.length} targets`);
  }
  const finest = targets[targets.length - 1]!;
  const size: [number, number] = [finest.shape[2]!, finest.shape[3]!];
  const levels = recons.map((r, i) => {
    const resized = b.resizeBilinear(cosineDistanceMap(b, r, targets[i]!), size, false);
    const k = 3 + 2 * i;
    return (o.postGaussian ?? true) ? gaussianBlur(b, resized, k, k / 3) : resized;
  });
  const used = o.mapLevels ?? levels.map((_, i) => i);
  for (const i of used)
    if (!Number.isInteger(i) || i < 0 || i >= levels.length) throw new Error(`anomaly map: level ${i} is not one of 0..${levels.length - 1}`);
  if (used.length === 0) throw new Error('anomaly map: at least one level is needed');
  const product = used.slice(1).reduce((acc, i) => b.mul(acc, levels[i]!), levels[used[0]!]!);
  const map = b.resizeBilinear(product, [o.outputSize[0], o.outputSize[1]], true);
  const score = b.max(map, [1, 2, 3]);
  return { map, score, levels };
}
