import { createRng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { createClassMetricsAccumulator, type ImageMap } from './class-accumulator.js';
import { MetricsInputError } from './errors.js';

function randomImage(seed: number, h = 10, w = 12): ImageMap {
  const rng = createRng(seed);
  const mask = new Uint8Array(h * w).map(() => (rng.uniform() < 0.1 ? 1 : 0));
  const scores = new Float32Array(h * w).map((_, i) => rng.uniform() + 0.5 * mask[i]!);
  return { scores, mask, height: h, width: w };
}

describe('createClassMetricsAccumulator', () => {
  it('a refused image leaves the accumulator as it was', () => {
    const clean = createClassMetricsAccumulator();
    const dirty = createClassMetricsAccumulator();
    for (let s = 1; s <= 4; s++) clean.add(randomImage(s));
    dirty.add(randomImage(1));
    dirty.add(randomImage(2));
    const bad = randomImage(99);
    bad.scores[70] = NaN;
    expect(() => dirty.add(bad, 'bad.png')).toThrow(MetricsInputError);
    expect(() => dirty.add(bad, 'bad.png')).toThrow('bad.png: score NaN at (y 5, x 10) is not finite');
    const badMask = randomImage(98);
    badMask.mask[3] = 2;
    expect(() => dirty.add(badMask, { scores: 'm.pred', mask: 'm.mask' })).toThrow('m.mask: mask value 2 at (y 0, x 3) is not 0 or 1');
    expect(() => dirty.add({ ...badMask, width: 11 })).toThrow(/scores hold 120 values, 10 x 11 needs 110/);
    dirty.add(randomImage(3));
    dirty.add(randomImage(4));
    expect(dirty.imageCount).toBe(4);
    expect(dirty.compute()).toEqual(clean.compute());
  });

  it('computes again after more images, and refuses to compute with none', () => {
    const acc = createClassMetricsAccumulator();
    expect(() => acc.compute()).toThrow(/no images were added/);
    acc.add(randomImage(1));
    acc.add(randomImage(2));
    const first = acc.compute();
    expect(acc.compute()).toEqual(first);
    acc.add(randomImage(3));
    expect(acc.compute().counts.images).toBe(3);
    expect(acc.pixelCount).toBe(360);
  });
});
