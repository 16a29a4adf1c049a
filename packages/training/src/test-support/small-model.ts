/** A small conv + attention + norm model with dropout, built from @unias/graph's nn layers (tests only). */
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
  const make = (shape: readonly number[]): TensorData => ({ dtype: 'float32', shape: [...shape], data: rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1) });
  return { image: make(SMALL_INPUT), target: make(SMALL_TARGET) };
}
