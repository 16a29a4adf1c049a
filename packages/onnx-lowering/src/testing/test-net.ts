/**
 * A small network for the lowering's tests and @unias/backend-onnx's (`@unias/onnx-lowering/testing`):
 * conv + GELU + group norm, bilinear up-sampling, a learned query expanded over the batch attending
 * over tokens, and the reshapes model code really writes (flatten and unsqueeze spell the batch out
 * explicitly).
 */
import { GraphBuilder, ones, torchBiasInit, zeros, type Graph } from '@unias/graph';

const kaiming = { kind: 'kaimingUniform', a: Math.sqrt(5) } as const;

export function buildTestNet(batch: number): Graph {
  const b = new GraphBuilder();
  const image = b.input('image', [batch, 3, 9, 8]);
  const features = b.within('stem', () => {
    const w = b.param('weight', [8, 3, 3, 3], kaiming);
    const bias = b.param('bias', [8], torchBiasInit(27));
    return b.gelu(b.conv2d(image, w, bias, { stride: 2, padding: 'same' }));
  }); // [B, 8, 5, 4]
  const normed = b.within('norm', () => b.groupNorm(features, b.param('weight', [8], ones), b.param('bias', [8], zeros), 4));
  const up = b.resizeBilinear(normed, [9, 8], false); // [B, 8, 9, 8]
  const pooled = b.flatten(b.globalAvgPool(up)); // reshape to [B, -1]: batch spelled out
  const tokens = b.transpose(b.reshape(normed, [0, 8, -1]), [0, 2, 1]); // [B, 20, 8]
  const attended = b.within('attend', () => {
    const query = b.broadcastTo(b.param('query', [1, 1, 8], { kind: 'normal', mean: 0, std: 1 }), [batch, 1, 8]);
    const weights = b.softmax(b.div(b.matmul(query, b.transpose(tokens, [0, 2, 1])), Math.sqrt(8)), -1); // [B, 1, 20]
    return b.reshape(b.matmul(weights, tokens), [batch, 8]); // batch spelled out again
  });
  const head = b.within('head', () => {
    const x = b.layerNorm(b.add(attended, pooled), b.param('ln.weight', [8], ones), b.param('ln.bias', [8], zeros));
    return b.linear(x, b.param('weight', [4, 8], kaiming), b.param('bias', [4], torchBiasInit(8)));
  });
  b.output('logits', head);
  b.output('features', up);
  b.output('similarity', b.cosineSimilarity(b.unsqueeze(pooled, 1), tokens, -1)); // [B, 20]
  b.output('score', b.meanAll(b.mul(head, head))); // no batch dim
  return b.build();
}
