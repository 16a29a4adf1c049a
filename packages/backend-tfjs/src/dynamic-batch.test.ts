/**
 * One graph built at batch 2, run at other batches (dynamicBatch). The truth: the same network
 * built at that batch, evaluated by the float64 reference with the same parameters. The network
 * spells the batch out the way model code does (flatten's [B, -1], a reshape to [B, 8], a learned
 * query broadcast to [B, 1, 8]).
 */
import { GraphBuilder, initParams, ones, torchBiasInit, zeros, type Graph } from '@unias/graph';
import { evaluateReference, maxRelError, uniform } from '@unias/graph/testing';
import { createRng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend } from './backend.js';
import { numTensors } from './testing/utils.js';

const kaiming = { kind: 'kaimingUniform', a: Math.sqrt(5) } as const;

function net(batch: number): Graph {
  const b = new GraphBuilder();
  const image = b.input('image', [batch, 3, 9, 8]);
  const feat = b.within('stem', () =>
    b.gelu(b.conv2d(image, b.param('weight', [8, 3, 3, 3], kaiming), b.param('bias', [8], torchBiasInit(27)), { stride: 2, padding: 'same' })),
  );
  const normed = b.within('norm', () => b.groupNorm(feat, b.param('weight', [8], ones), b.param('bias', [8], zeros), 4));
  const up = b.resizeBilinear(normed, [9, 8], false);
  const pooled = b.flatten(b.globalAvgPool(up));
  const tokens = b.transpose(b.reshape(normed, [0, 8, -1]), [0, 2, 1]);
  const attended = b.within('attend', () => {
    const query = b.broadcastTo(b.param('query', [1, 1, 8], { kind: 'normal', mean: 0, std: 1 }), [batch, 1, 8]);
    const weights = b.softmax(b.div(b.matmul(query, b.transpose(tokens, [0, 2, 1])), Math.sqrt(8)), -1);
    return b.reshape(b.matmul(weights, tokens), [batch, 8]);
  });
  const head = b.within('head', () => {
    const x = b.layerNorm(b.add(attended, pooled), b.param('ln.weight', [8], ones), b.param('ln.bias', [8], zeros));
    return b.linear(x, b.param('weight', [4, 8], kaiming), b.param('bias', [4], torchBiasInit(8)));
  });
  b.output('logits', head);
  b.output('features', up);
  b.output('similarity', b.cosineSimilarity(b.unsqueeze(pooled, 1), tokens, -1));
  b.output('score', b.meanAll(b.mul(head, head)));
  return b.build();
}

describe('dynamicBatch', () => {
  it('runs a graph built at batch 2 at batches 1, 3 and 5 like graphs built at those batches', async () => {
    const backend = await createTfjsBackend({ prefer: ['tfjs-wasm'] });
    const graph = net(2);
    const params = initParams(graph, 4);
    const before = numTensors();
    const session = await backend.prepare(graph, { params, dynamicBatch: true });
    for (const batch of [1, 3, 5]) {
      const image = uniform(createRng(batch), [batch, 3, 9, 8]);
      const got = await session.run({ image });
      const want = evaluateReference(net(batch), { image }, { params });
      for (const [name, ref] of Object.entries(want)) {
        expect(got[name]!.shape, `${name} at batch ${batch}`).toEqual(ref.shape);
        expect(maxRelError(got[name]!.data, ref.data), `${name} at batch ${batch}`).toBeLessThanOrEqual(1e-5);
      }
    }
    await session.dispose();
    expect(numTensors()).toBe(before);
  });

  it('insists that every input leads with the same batch', async () => {
    const b = new GraphBuilder();
    b.output('y', b.add(b.sum(b.input('a', [2, 3]), 1), b.sum(b.input('c', [2, 4]), 1)));
    const backend = await createTfjsBackend({ prefer: ['tfjs-cpu'] });
    const s = await backend.prepare(b.build(), { dynamicBatch: true });
    const a = uniform(createRng(1), [3, 3]);
    await expect(s.run({ a, c: uniform(createRng(2), [4, 4]) })).rejects.toThrow(/inputs disagree on dim 0/);
    expect((await s.run({ a, c: uniform(createRng(2), [3, 4]) }))['y']!.shape).toEqual([3]);
    await s.dispose();
  });
});
