import { createRng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { applyAugmentation, drawAugmentation, MVTEC_AUGMENTATION, policyFromLists, VISA_AUGMENTATION, type AugmentationParams } from './augment.js';

// A 3x3 single-channel image:   a b c / d e f / g h i   (values 1..9)
const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
const p = (hflip: boolean, vflip: boolean, quarterTurns: 0 | 1 | 2 | 3): AugmentationParams => ({ hflip, vflip, quarterTurns });

describe('applyAugmentation', () => {
  it('flips and rotates a known image exactly', () => {
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(true, false, 0)))).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(false, true, 0)))).toEqual([7, 8, 9, 4, 5, 6, 1, 2, 3]);
    // 90 degrees counter-clockwise: the right column becomes the top row.
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(false, false, 1)))).toEqual([3, 6, 9, 2, 5, 8, 1, 4, 7]);
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(false, false, 2)))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(false, false, 3)))).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
    // Flip first, then rotate: hflip then 90 ccw = transpose.
    expect(Array.from(applyAugmentation(img, 1, 3, 3, p(true, false, 1)))).toEqual([1, 4, 7, 2, 5, 8, 3, 6, 9]);
  });

  it('treats every channel the same and leaves the input untouched', () => {
    const two = Float32Array.from([...img, ...img.map((v) => v * 10)]);
    const out = applyAugmentation(two, 2, 3, 3, p(true, true, 0));
    expect(Array.from(out)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 90, 80, 70, 60, 50, 40, 30, 20, 10]);
    expect(two[0]).toBe(1);
    const mask = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(applyAugmentation(mask, 1, 3, 3, p(false, false, 1))).toBeInstanceOf(Uint8Array);
    expect(Array.from(applyAugmentation(mask, 1, 3, 3, p(false, false, 1)))).toEqual([0, 0, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('refuses quarter turns of a non-square image', () => {
    expect(() => applyAugmentation(new Float32Array(6), 1, 2, 3, p(false, false, 1))).toThrow(/square/);
    expect(applyAugmentation(Float32Array.from([1, 2, 3, 4, 5, 6]), 1, 2, 3, p(false, false, 2))).toEqual(Float32Array.from([6, 5, 4, 3, 2, 1]));
  });
});

describe('policies', () => {
  it('carries the official class lists', () => {
    expect(MVTEC_AUGMENTATION['grid']).toEqual({ hflip: true, vflip: true });
    expect(MVTEC_AUGMENTATION['bottle']).toEqual({ hflip: true, vflip: true, rotate: true });
    expect(MVTEC_AUGMENTATION['cable']).toBeUndefined();
    expect(Object.keys(MVTEC_AUGMENTATION).sort()).toEqual(['bottle', 'carpet', 'grid', 'hazelnut', 'metal_nut', 'pill', 'screw', 'tile', 'wood', 'zipper']);
    expect(VISA_AUGMENTATION['candle']).toEqual({ hflip: true });
    expect(VISA_AUGMENTATION['macaroni1']).toEqual({ hflip: true });
    expect(VISA_AUGMENTATION['fryum']).toEqual({ hflip: true, vflip: true, rotate: true });
    expect(VISA_AUGMENTATION['chewinggum']).toEqual({ hflip: true, vflip: true });
    expect(Object.keys(VISA_AUGMENTATION).sort()).toEqual(['candle', 'capsules', 'chewinggum', 'fryum', 'macaroni1', 'macaroni2', 'pipe_fryum']);
  });

  it('draws deterministically, only what the class allows, with every option reached', () => {
    const draws = (seed: number, cls: string): AugmentationParams[] => {
      const rng = createRng(seed);
      return Array.from({ length: 200 }, () => drawAugmentation(rng, MVTEC_AUGMENTATION[cls]));
    };
    expect(draws(5, 'bottle')).toEqual(draws(5, 'bottle'));
    expect(draws(5, 'bottle')).not.toEqual(draws(6, 'bottle'));
    const bottle = draws(5, 'bottle');
    expect(new Set(bottle.map((d) => d.quarterTurns))).toEqual(new Set([0, 1, 2, 3]));
    const hRate = bottle.filter((d) => d.hflip).length / bottle.length;
    expect(hRate).toBeGreaterThan(0.35);
    expect(hRate).toBeLessThan(0.65);
    expect(draws(5, 'grid').every((d) => d.quarterTurns === 0)).toBe(true);
    expect(draws(5, 'grid').some((d) => d.vflip)).toBe(true);
    expect(draws(5, 'cable').every((d) => !d.hflip && !d.vflip && d.quarterTurns === 0)).toBe(true);
    // A policy built from lists matches one written out.
    expect(policyFromLists({ hflip: ['x'], rotate: ['x', 'y'] })).toEqual({ x: { hflip: true, rotate: true }, y: { rotate: true } });
  });
});
