/** A small conv + attention + norm model with dropout, built from @unias/graph's nn layers (tests only). */
import { maxRelError } from '@unias/graph/testing';
import { conv2dLayer, createRng, groupNormLayer, layerNormLayer, multiheadAttention, type GraphBuilder, type Sym, type TensorData } from '@unias/graph';

export const SMALL_INPUT = [2, 4, 8, 8] as const;
export const SMALL_TARGET = [2, 4, 8, 8] as const;

export function smallModel(b: GraphBuilder): Sym {
  const x = b.input('image', [...SMALL_INPUT]);
  let h = conv2dLayer(b, 'stem', x, { out: 8, kernel: 3, padding: 1 });
  h = b.dropout(b.gelu(groupNormLayer(b, 'stem_norm', h, 2)), 0.1);
  h = conv2dLayer(b, 'down', h, { out: 8, kernel: 3, stride: 2, padding: 'same' }); // [2, 8, 4, 4]
  const tokens = b.transpose(b.reshape(h, [0, 8, 16]), [0, 2, 1]); // [2, 16, 8]
  const attn = multiheadAttention(b, 'attn', tokens, tokens, tokens, { numHeads: 2, dropout: 0.1 });
  const t = layerNormLayer(b, 'norm', b.add(tokens, attn));
  const map = b.reshape(b.transpose(t, [0, 2, 1]), [0, 8, 4, 4]);
  const up = b.resizeBilinear(map, [8, 8], false);
  const pred = conv2dLayer(b, 'head', b.silu(up), { out: 4, kernel: 1 });
  b.output('pred', pred);
  const target = b.input('target', [...SMALL_TARGET]);
  return b.meanAll(b.square(b.sub(pred, target)));
}

export function smallBatch(seed: number): Record<string, TensorData> {
  const rng = createRng(seed);
  const make = (shape: readonly number[]): TensorData => ({
    dtype: 'float32',
    shape: [...shape],
    data: rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1),
  });
  return { image: make(SMALL_INPUT), target: make(SMALL_TARGET) };
}

/**
 * The key part of an attention's in_proj_bias has an identically zero gradient (adding q.b_k to
 * every score of a query leaves its softmax unchanged), so under Adam its path is rounding noise
 * scaled up to O(lr) steps, different on every backend (and in PyTorch). It is compared apart:
 * both runs must keep it within 5 lr of zero.
 */
const E = 8;
export function keyBias(t: TensorData): Float32Array {
  return Float32Array.from(t.data.subarray(E, 2 * E));
}
export function withoutKeyBias(name: string, t: TensorData): Float32Array {
  if (name !== 'attn.in_proj_bias') return Float32Array.from(t.data);
  return Float32Array.from([...t.data.subarray(0, E), ...t.data.subarray(2 * E)]);
}

export function worstParamError(a: ReadonlyMap<string, TensorData>, b: ReadonlyMap<string, TensorData>): number {
  let worst = 0;
  for (const [name, t] of a) worst = Math.max(worst, maxRelError(withoutKeyBias(name, t), withoutKeyBias(name, b.get(name)!)));
  return worst;
}
