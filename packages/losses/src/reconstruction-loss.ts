/**
 * The UniAS reconstruction loss: per level MSE(recon, target) plus a cosine term, summed over
 * levels and weighted (10 for MVTec, 1 for VisA).
 *
 * The cosine term has two signs:
 * - `'distance'` (default): 1 - mean cos, the cosine distance the paper describes;
 * - `'released'`: + mean cos, what the released code computes (its decoder adds
 *   `(1 - anomaly_map).mean()` with `anomaly_map = 1 - cos`); the golden fixture's loss uses it.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

export type CosineSign = 'distance' | 'released';

export interface ReconstructionLossOptions {
  /** Weight of the summed levels (official 10 for MVTec-AD, 1 for VisA). Default 10. */
  readonly weight?: number;
  /** Default `'distance'`. */
  readonly cosine?: CosineSign;
}

export interface LevelLoss {
  /** Mean of squared differences over every element. */
  readonly mse: Sym;
  /** Cosine similarity over channels, averaged over the batch and the level's pixels. */
  readonly meanCos: Sym;
  /** mse + (1 - meanCos) or mse + meanCos, by the sign. */
  readonly total: Sym;
}

export interface ReconstructionLoss {
  /** weight * sum of the levels' totals (a scalar). */
  readonly loss: Sym;
  readonly levels: readonly LevelLoss[];
}

function checkPair(recon: Sym, target: Sym, what: string): void {
  if (recon.shape.length !== 4 || recon.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`${what}: reconstruction [${recon.shape.join(',')}] and target [${target.shape.join(',')}] must be equal [N,C,H,W] shapes`);
  }
}

/** One level's terms; recon and target [N, C, H, W]. */
export function levelLoss(b: GraphBuilder, recon: Sym, target: Sym, sign: CosineSign = 'distance'): LevelLoss {
  checkPair(recon, target, 'reconstruction loss');
  // Means in two stages (pixels, then batch and channels): the same value, but a backend that
  // sums naively in float32 accumulates over far fewer terms at a time.
  const mse = b.meanAll(b.mean(b.square(b.sub(recon, target)), [2, 3]));
  const meanCos = b.meanAll(b.mean(b.cosineSimilarity(recon, target, 1), [1, 2]));
  const total = b.add(mse, sign === 'released' ? meanCos : b.sub(1, meanCos));
  return { mse, meanCos, total };
}

/** recons[i] is compared with targets[i]; any number of levels. */
export function reconstructionLoss(
  b: GraphBuilder,
  recons: readonly Sym[],
  targets: readonly Sym[],
  options: ReconstructionLossOptions = {},
): ReconstructionLoss {
  if (recons.length === 0 || recons.length !== targets.length) {
    throw new Error(`reconstruction loss: ${recons.length} reconstructions for ${targets.length} targets`);
  }
  const sign = options.cosine ?? 'distance';
  if (sign !== 'distance' && sign !== 'released') throw new Error(`reconstruction loss: unknown cosine sign "${String(sign)}" (distance | released)`);
  const weight = options.weight ?? 10;
  if (!Number.isFinite(weight) || weight <= 0) throw new Error(`reconstruction loss: weight must be a positive number, got ${weight}`);
  const levels = recons.map((r, i) => levelLoss(b, r, targets[i]!, sign));
  const sum = levels.slice(1).reduce((acc, l) => b.add(acc, l.total), levels[0]!.total);
  return { loss: b.mul(sum, weight), levels };
}
