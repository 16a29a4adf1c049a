import { createGraph, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { TAPS, loadFixture, type Fixture } from '../test/fixture-data.js';
import { featureJitter, gaussianBlur, gaussianKernel1d, preprocessTap } from './index.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await loadFixture();
});

describe('feature pre-processing', () => {
  it('Gaussian windows are normalised exp(-x^2 / 2 sigma^2) at integer offsets (closed form)', () => {
    const k = gaussianKernel1d(3, 1);
    const e = Math.exp(-0.5);
    expect(k[0]).toBeCloseTo(e / (1 + 2 * e), 15);
    expect(k[1]).toBeCloseTo(1 / (1 + 2 * e), 15);
    const k9 = gaussianKernel1d(9, 3);
    expect(k9.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 15);
    expect(k9[0]).toBeCloseTo((Math.exp(-16 / 18) / k9.reduce((a, _, i) => a + Math.exp(-((i - 4) ** 2) / 18), 0)) * 1, 15);
  });

  it('blur uses a reflect border (a constant map stays constant, edges included)', () => {
    const b = createGraph();
    b.output('y', gaussianBlur(b, b.input('x', [1, 2, 5, 4]), 5, 5 / 3));
    const x: TensorData = { dtype: 'float32', shape: [1, 2, 5, 4], data: new Float32Array(40).fill(3) };
    const y = evaluateReference(b.build(), { x }).y!;
    // float32 kernel constants: exact up to their rounding
    for (const v of y.data) expect(Math.abs(v - 3)).toBeLessThan(3e-7);
  });

  it("targets and decoder inputs from the raw taps match the official backbone wrapper's within 1e-6", () => {
    const b = createGraph();
    const feeds: Record<string, TensorData> = {};
    for (const t of TAPS) {
      const u = fx.tensor(`backbone.decoder_input.${t}`);
      const [n, c2, h, w] = u.shape as [number, number, number, number];
      const c = c2 / 2;
      // the raw tap: v = blur(v) + (v - blur(v)), the two halves of the decoder input
      const v = new Float32Array(n * c * h * w);
      for (let i = 0; i < v.length; i++) v[i] = u.data[i]! + u.data[i + c * h * w]!;
      feeds[t] = { dtype: 'float32', shape: [n, c, h, w], data: v };
      const p = preprocessTap(b, b.input(t, [n, c, h, w]));
      b.output(`target.${t}`, p.target);
      b.output(`decoder_input.${t}`, p.decoderInput);
    }
    const out = evaluateReference(b.build(), feeds);
    for (const t of TAPS) {
      const et = maxRelError(out[`target.${t}`]!.data, fx.tensor(`backbone.target.${t}`).data);
      const eu = maxRelError(out[`decoder_input.${t}`]!.data, fx.tensor(`backbone.decoder_input.${t}`).data);
      expect(et, `target ${t}`).toBeLessThan(1e-6);
      expect(eu, `decoder input ${t}`).toBeLessThan(1e-6);
    }
  });
});

describe('feature jitter', () => {
  const shape = [2, 3, 2, 2];
  const u: TensorData = { dtype: 'float32', shape, data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)) };
  const noise: TensorData = { dtype: 'float32', shape, data: Float32Array.from({ length: 24 }, (_, i) => Math.cos(3 * i)) };

  it('is absent from eval graphs', () => {
    const b = createGraph();
    const x = b.input('u', shape);
    expect(featureJitter(b, 'jitter.res1', x, { scale: 20, prob: 0.5 })).toBe(x);
    expect(b.build().random.size).toBe(0);
  });

  it('adds randn * ||u||_channels / C * scale when the coin says so (vs a direct computation)', () => {
    const b = createGraph({ training: true });
    b.output('y', featureJitter(b, 'jitter.res1', b.input('u', shape), { scale: 20, prob: 0.5 }));
    const g = b.build();
    expect(Object.fromEntries(g.random)).toEqual({
      'jitter.res1.noise': { kind: 'normal', gate: 'jitter.res1.apply' },
      'jitter.res1.apply': { kind: 'bernoulli', p: 0.5 },
    });
    const run = (apply: number) =>
      evaluateReference(g, { u, 'jitter.res1.noise': noise, 'jitter.res1.apply': { dtype: 'float32', shape: [1, 1, 1, 1], data: Float32Array.of(apply) } }).y!
        .data;
    expect(maxRelError(run(0), u.data)).toBe(0);
    const expected = new Float64Array(24);
    for (let n = 0; n < 2; n++)
      for (let p = 0; p < 4; p++) {
        let sq = 0;
        for (let c = 0; c < 3; c++) sq += u.data[(n * 3 + c) * 4 + p]! ** 2;
        for (let c = 0; c < 3; c++) {
          const i = (n * 3 + c) * 4 + p;
          expected[i] = u.data[i]! + noise.data[i]! * (Math.sqrt(sq) / 3) * 20;
        }
      }
    expect(maxRelError(run(1), expected)).toBeLessThan(1e-7); // the scale is a float32 constant
  });
});
