/**
 * DETR's normalised sine positional encoding of a grid, as the official `PositionEmbeddingSine`
 * computes it (in float32, whatever the model's precision): cumulative positions scaled to
 * (0, 2*pi], temperature 10000, y-part then x-part, sin on even and cos on odd feature indices.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

const f = Math.fround;

/** Values [2 * numPosFeats, h, w] (channel-first, like the official module's output). */
export function sinePositionEncoding(h: number, w: number, numPosFeats: number, temperature = 10000): Float32Array {
  if (!Number.isInteger(numPosFeats) || numPosFeats <= 0 || numPosFeats % 2 !== 0) {
    throw new Error(`sine positional encoding: num_pos_feats must be a positive even integer, got ${numPosFeats}`);
  }
  const scale = f(2 * Math.PI);
  const eps = f(1e-6);
  const dimT = new Float32Array(numPosFeats);
  for (let i = 0; i < numPosFeats; i++) dimT[i] = f(temperature ** f(f(2 * Math.floor(i / 2)) / numPosFeats));
  const embed = (pos: number, last: number) => f(f(f(pos) / f(f(last) + eps)) * scale);
  const out = new Float32Array(2 * numPosFeats * h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const ey = embed(y + 1, h);
      const ex = embed(x + 1, w);
      for (let i = 0; i < numPosFeats; i++) {
        const vy = f(ey / dimT[i]!);
        const vx = f(ex / dimT[i]!);
        out[(i * h + y) * w + x] = i % 2 === 0 ? Math.sin(vy) : Math.cos(vy);
        out[((numPosFeats + i) * h + y) * w + x] = i % 2 === 0 ? Math.sin(vx) : Math.cos(vx);
      }
    }
  return out;
}

/** The encoding of an h x w grid as tokens [h*w, channels] (row-major positions), a graph constant. */
export function sinePositionTokens(b: GraphBuilder, h: number, w: number, channels: number): Sym {
  const chw = sinePositionEncoding(h, w, channels / 2);
  const tokens = new Float32Array(chw.length);
  const hw = h * w;
  for (let c = 0; c < channels; c++) for (let p = 0; p < hw; p++) tokens[p * channels + c] = chw[c * hw + p]!;
  return b.constant(tokens, [hw, channels]);
}
