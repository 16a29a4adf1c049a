/**
 * The patch embedding of a PatchCore-style detector: several backbone taps brought to one grid
 * (bilinear, align_corners false), each averaged over a k x k neighbourhood (stride 1, so every
 * grid cell sees its surroundings; padding excluded from the mean so borders are not darkened) and
 * concatenated along channels.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

export interface PatchEmbeddingOptions {
  /** [height, width] of the embedding grid. */
  readonly grid: readonly [number, number];
  /** Side of the local average (odd; 1 = none). Default 3. */
  readonly poolSize?: number;
}

/** taps: [N, C_i, h_i, w_i] each -> [N, sum C_i, grid_h, grid_w]. */
export function patchEmbedding(b: GraphBuilder, taps: readonly Sym[], o: PatchEmbeddingOptions): Sym {
  if (taps.length === 0) throw new Error('patch embedding: at least one tap is needed');
  const k = o.poolSize ?? 3;
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0) throw new Error(`patch embedding: poolSize must be an odd positive integer, got ${k}`);
  const [gh, gw] = o.grid;
  const parts = taps.map((t) => {
    if (t.shape.length !== 4) throw new Error(`patch embedding: taps must be [N, C, H, W], got [${t.shape.join(', ')}]`);
    const onGrid = t.shape[2] === gh && t.shape[3] === gw ? t : b.resizeBilinear(t, [gh, gw], false);
    return k === 1 ? onGrid : b.avgPool2d(onGrid, k, { stride: 1, padding: (k - 1) / 2, countIncludePad: false });
  });
  return parts.length === 1 ? parts[0]! : b.concat(parts, 1);
}
