/**
 * Gradients of the released-sign loss against the official code's (`grad.sem_seg_head.*` in the
 * fixture: the 26 parameters whose float32 gradient agreed with float64 within 1e-3), through
 * @unias/graph's autodiff, on ONNX Runtime.
 */
import { createGraph, grad } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { createOnnxBackend } from '@unias/backend-onnx';
import { reconstructionLoss } from '@unias/losses';
import { describe, expect, it } from 'vitest';
import { loadFixture } from '../test/fixture-data.js';
import { PRESETS, buildHead, resolveConfig, tapSizes } from './index.js';

describe('gradients vs the official code (small preset, eval, released loss)', () => {
  it('all 26 fixture gradients within 1e-4 relative on ORT', async () => {
    const fx = await loadFixture();
    const c = resolveConfig({ ...PRESETS.small, loss: { weight: 10, cosine: 'released' } });
    const b = createGraph();
    const sizes = tapSizes(c);
    const u = c.taps.map((t, i) => b.input(`decoder_input.${t.name}`, [1, 2 * t.channels, ...sizes[i]!]));
    const targets = c.taps.map((t, i) => b.input(`target.${t.name}`, [1, t.channels, ...sizes[i]!]));
    const { loss } = reconstructionLoss(b, buildHead(b, u, c), [...targets].reverse(), c.loss);
    b.output('loss', loss);
    const names = [...fx.io.tensors.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice('grad.'.length));
    expect(names.length).toBe(26);
    const forward = b.build();
    const grads = grad(
      b,
      loss,
      names.map((n) => forward.params.get(n)!),
    );
    grads.forEach((g, i) => b.output(`grad.${names[i]}`, g));
    const graph = b.build();
    const session = await (await createOnnxBackend()).prepare(graph, { params: fx.params(graph) });
    try {
      const out = await session.run(fx.featureFeeds());
      const errors = names.map((n) => maxRelError(out[`grad.${n}`]!.data, fx.tensor(`grad.${n}`).data));
      console.log(
        `gradient parity (26 params): worst ${Math.max(...errors).toExponential(2)}, median ${[...errors].sort((a, z) => a - z)[13]!.toExponential(2)}`,
      );
      errors.forEach((e, i) => expect(e, names[i]).toBeLessThan(1e-4));
    } finally {
      await session.dispose();
    }
  });
});
