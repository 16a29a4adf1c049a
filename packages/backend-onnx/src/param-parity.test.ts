import type { TensorData } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { compareTrainedParams } from './param-parity.js';

const t = (...v: number[]): TensorData => ({ dtype: 'float32', shape: [v.length], data: Float32Array.from(v) });

describe('compareTrainedParams', () => {
  it('leaves the key third of in_proj_bias out of the worst difference and reports it apart', () => {
    const a = new Map([
      ['w', t(1, 2, 4)],
      ['attn.in_proj_bias', t(1, 1, 0.5, -0.25, 2, 2)],
    ]);
    const b = new Map([
      ['w', t(1, 2, 4.004)], // 0.004 / 4.004 relative to the largest |b|
      ['attn.in_proj_bias', t(1, 1, -0.125, 0.0625, 2, 2)], // only the key third [2, 4) differs
    ]);
    const r = compareTrainedParams(a, b);
    expect(r.worstName).toBe('w');
    expect(r.worst).toBeCloseTo(0.004 / 4.004, 6);
    expect(r.keyBiasMax).toBe(0.5);
    expect(r.ranked.map((p) => p.name)).toEqual(['w', 'attn.in_proj_bias']);
    expect(r.ranked[1]!.error).toBe(0); // its query and value thirds agree
  });

  it('names a parameter missing from one run', () => {
    expect(() => compareTrainedParams(new Map(), new Map([['w', t(1)]]))).toThrow('parameter w is in one run only');
  });
});
