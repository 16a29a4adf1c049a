/** The benchmark block: batch 4, 128 channels at 28x28, conv + attention, MSE loss. */
import { conv2dLayer, layerNormLayer, multiheadAttention, type GraphBuilder, type Sym } from '@unias/graph';

export const N = 4;
export const C = 128;
export const S = 28;

export function block(b: GraphBuilder): Sym {
  const x = b.input('image', [N, C, S, S]);
  let h = b.gelu(conv2dLayer(b, 'conv1', x, { out: C, kernel: 3, padding: 1 }));
  h = b.gelu(conv2dLayer(b, 'conv2', h, { out: C, kernel: 3, padding: 1 }));
  const pooled = b.avgPool2d(h, 2); // [N, C, 14, 14]
  const tokens = b.transpose(b.reshape(pooled, [0, C, (S / 2) * (S / 2)]), [0, 2, 1]); // [N, 196, C]
  const attn = multiheadAttention(b, 'attn', tokens, tokens, tokens, { numHeads: 4 });
  const t = layerNormLayer(b, 'norm', b.add(tokens, attn));
  const map = b.reshape(b.transpose(t, [0, 2, 1]), [0, C, S / 2, S / 2]);
  const fused = b.add(h, b.resizeBilinear(map, [S, S], false));
  const pred = conv2dLayer(b, 'head', fused, { out: C, kernel: 1 });
  const target = b.input('target', [N, C, S, S]);
  return b.meanAll(b.square(b.sub(pred, target)));
}
