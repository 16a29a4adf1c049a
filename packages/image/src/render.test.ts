/** The path back from a map to pictures, against values worked out by hand. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { binaryMask, encodePng, heatmapRgb, JET, overlayRgb, planarToRgb, quantize, rangeOf, renderMap, resizeMap } from './render.js';

describe('resizeMap', () => {
  it('is bilinear with half-pixel centres and clamped edges', () => {
    // 2 -> 4: output centres fall at source x = -0.25, 0.25, 0.75, 1.25 -> clamped to 0 .. 1
    expect(Array.from(resizeMap(Float32Array.from([0, 1]), { width: 2, height: 1 }, { width: 4, height: 1 }))).toEqual([0, 0.25, 0.75, 1]);
    // rows and columns are not swapped: a 1 x 2 column grows to 1 x 4
    expect(Array.from(resizeMap(Float32Array.from([0, 1]), { width: 1, height: 2 }, { width: 1, height: 4 }))).toEqual([0, 0.25, 0.75, 1]);
    const same = Float32Array.from([1, 2, 3]);
    expect(resizeMap(same, { width: 3, height: 1 }, { width: 3, height: 1 })).toBe(same);
  });
});

describe('colours and masks', () => {
  it('quantises over the scale, clamped; a flat scale is all zero', () => {
    expect(Array.from(quantize([-1, 0, 0.5, 1, 2], { lo: 0, hi: 1 }))).toEqual([0, 0, 128, 255, 255]);
    expect(Array.from(quantize([3, 3], rangeOf([3, 3])))).toEqual([0, 0]);
    expect(rangeOf([2, -1, 5])).toEqual({ lo: -1, hi: 5 });
  });

  it('jet runs from dark blue to dark red; the overlay is half image, half heat', () => {
    expect(Array.from(JET.subarray(0, 3))).toEqual([0, 0, 128]);
    expect(Array.from(JET.subarray(255 * 3))).toEqual([128, 0, 0]);
    expect(Array.from(heatmapRgb(Uint8Array.from([0, 255])))).toEqual([0, 0, 128, 128, 0, 0]);
    expect(Array.from(overlayRgb(Uint8Array.from([200, 100, 0]), Uint8Array.from([0, 0, 128])))).toEqual([100, 50, 64]);
    expect(Array.from(binaryMask([0.1, 0.2, 0.3], 0.2))).toEqual([0, 255, 255]);
    expect(Array.from(planarToRgb(Float32Array.from([1, 0, 0.5, 0.5, -1, 2]), { width: 2, height: 1 }))).toEqual([255, 128, 0, 0, 128, 255]);
  });

  it('renderMap draws the resized map at the picture size, over its own range without a scale', () => {
    const r = renderMap({
      map: Float32Array.from([0, 1]),
      mapSize: { width: 2, height: 1 },
      rgb: new Uint8Array(12),
      size: { width: 4, height: 1 },
      scale: null,
      threshold: 0.5,
    });
    expect(r.scale).toEqual({ lo: 0, hi: 1 });
    expect(Array.from(r.levels)).toEqual([0, 64, 191, 255]);
    expect(Array.from(r.mask!)).toEqual([0, 0, 255, 255]);
    expect(r.overlay.length).toBe(12);
    expect(
      renderMap({
        map: Float32Array.from([0, 1]),
        mapSize: { width: 2, height: 1 },
        rgb: new Uint8Array(6),
        size: { width: 2, height: 1 },
        scale: { lo: 0, hi: 2 },
        threshold: null,
      }).mask,
    ).toBeNull();
  });
});

describe('encodePng', () => {
  it('writes grey as a one-channel PNG and RGB as three, losslessly', async () => {
    const grey = Uint8Array.from([0, 50, 100, 255, 7, 9]);
    const g = await encodePng(grey, { width: 3, height: 2 }, 1);
    expect((await sharp(g).metadata()).channels).toBe(1);
    expect(Array.from(await sharp(g).toColourspace('b-w').raw().toBuffer())).toEqual(Array.from(grey));
    const rgb = Uint8Array.from({ length: 18 }, (_, i) => i * 13);
    const c = await encodePng(rgb, { width: 3, height: 2 }, 3);
    expect(Array.from(await sharp(c).raw().toBuffer())).toEqual(Array.from(rgb));
  });
});
