/**
 * The UniAS reconstruction loss: per level MSE(recon, target) plus a cosine term, summed over
 * levels and weighted (10 for MVTec, 1 for VisA).
 *
 * The cosine term has two signs:
 * - `'distance'` (default): 1 - mean cos, the cosine distance the paper describes;
 * - `'released'`: + mean cos, what the released code computes (its decoder adds
 *   `(1 - anomaly_map).mean()` with `anomaly_map = 1 - cos`); the golden fixture's loss uses it.
 *
 * The MSE term has three forms:
 * - `'raw'` (default, official): the mean squared difference in the features' own units;
 * - `'relative'`: divided by the mean square of the level's target over the batch, so each level
 *   weighs the same whatever the scale of its tap (raw MSE of a MobileNetV2 tap is 1-20, its
 *   cosine distance 0.05-0.5: the raw sum is mostly MSE of the largest tap);
 * - `'none'`: no MSE, the cosine term alone (what the anomaly map measures).
 */
import type { GraphBuilder, Sym } from '@unias/graph';

export type CosineSign = 'distance' | 'released';
export type MseForm = 'raw' | 'relative' | 'none';
export const MSE_FORMS: readonly MseForm[] = ['raw', 'relative', 'none'];

export interface ReconstructionLossOptions {
  /** Weight of the summed levels (official 10 for MVTec-AD, 1 for VisA). Default 10. */
  readonly weight?: number;
  /** Default `'distance'`. */
  readonly cosine?: CosineSign;
  /** Default `'raw'`. */
  readonly mse?: MseForm;
}

export interface LevelLoss {
  /** Mean of squared differences over every element (`'relative'`: over the target's mean square; `'none'`: null). */
  readonly mse: Sym | null;
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
export function levelLoss(b: GraphBuilder, recon: Sym, target: Sym, sign: CosineSign = 'distance', form: MseForm = 'raw'): LevelLoss {
  checkPair(recon, target, 'reconstruction loss');
  // Means in two stages (pixels, then batch and channels): the same value, but a backend that
  // sums naively in float32 accumulates over far fewer terms at a time.
  const meanSquare = (x: Sym) => b.meanAll(b.mean(b.square(x), [2, 3]));
  const meanCos = b.meanAll(b.mean(b.cosineSimilarity(recon, target, 1), [1, 2]));
  const cosTerm = sign === 'released' ? meanCos : b.sub(1, meanCos);
  if (form === 'none') return { mse: null, meanCos, total: cosTerm };
  const raw = meanSquare(b.sub(recon, target));
  // the target is frozen backbone output: its mean square is a constant of the batch, no gradient
  const mse = form === 'relative' ? b.div(raw, b.add(meanSquare(target), 1e-12)) : raw;
  return { mse, meanCos, total: b.add(mse, cosTerm) };
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
  const form = options.mse ?? 'raw';
  if (!MSE_FORMS.includes(form)) throw new Error(`reconstruction loss: unknown MSE form "${String(form)}" (${MSE_FORMS.join(' | ')})`);
  const weight = options.weight ?? 10;
  if (!Number.isFinite(weight) || weight <= 0) throw new Error(`reconstruction loss: weight must be a positive number, got ${weight}`);
  const levels = recons.map((r, i) => levelLoss(b, r, targets[i]!, sign, form));
  const sum = levels.slice(1).reduce((acc, l) => b.add(acc, l.total), levels[0]!.total);
  return { loss: b.mul(sum, weight), levels };
}
