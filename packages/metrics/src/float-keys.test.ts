import { createRng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { floatToKey, keyToFloat } from './float-keys.js';
import { CurveDownsampler } from './curve-downsampler.js';

describe('float32 keys', () => {
  it('preserve order and round-trip, with -0 folded into +0', () => {
    const rng = createRng(5);
    const values = Array.from({ length: 2000 }, () => Math.fround((rng.uniform() - 0.5) * 10 ** (rng.int(12) - 6)));
    values.push(0, -0, Math.fround(1e-40), -Math.fround(1e-40), 3.4028234663852886e38, -3.4028234663852886e38);
    for (const v of values) expect(keyToFloat(floatToKey(v))).toBe(v === 0 ? 0 : v);
    expect(floatToKey(-0)).toBe(floatToKey(0));
    const byValue = [...values].sort((a, b) => a - b);
    const byKey = [...values].sort((a, b) => floatToKey(a) - floatToKey(b));
    expect(byKey.map((v) => (v === 0 ? 0 : v))).toEqual(byValue.map((v) => (v === 0 ? 0 : v)));
  });
});

describe('CurveDownsampler', () => {
  it('keeps at most maxPoints, always the first and last point', () => {
    const d = new CurveDownsampler(20);
    const n = 10000;
    for (let i = 0; i <= n; i++) d.push(i / n, Math.sqrt(i / n) * (i % 2 === 0 ? 1 : 0.9), i);
    const c = d.finish((t) => t);
    expect(c.x.length).toBeLessThanOrEqual(20);
    expect(c.x.length).toBeGreaterThanOrEqual(10);
    expect(c.x[0]).toBe(0);
    expect(c.thresholds[0]).toBe(0);
    expect(c.x.at(-1)).toBe(1);
    expect(c.thresholds.at(-1)).toBe(n);
    for (let i = 1; i < c.x.length; i++) expect(c.x[i]!).toBeGreaterThan(c.x[i - 1]!);
  });
});
