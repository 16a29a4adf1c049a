import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleReader, IMAGENET_MEAN, IMAGENET_STD } from './reader.js';
import { makeTempDir, rectMask, solid, writePng } from './testing/fixtures.js';
import type { Sample } from './types.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('reader'));
});
afterAll(() => cleanup());

const sample = (path: string, maskPath: string | null, label: 0 | 1 = maskPath ? 1 : 0): Sample => ({
  path,
  className: 'c',
  split: 'test',
  label,
  defectType: label ? 'd' : 'good',
  maskPath,
});

describe('createSampleReader', () => {
  it('gives plain [0,1] RGB or ImageNet-normalised planes at the requested size', async () => {
    const p = join(dir, 'solid.png');
    await writePng(p, solid(32, 32, [255, 128, 0]));
    const plain = await createSampleReader({ size: 8, normalize: 'none' }).read(sample(p, null));
    expect(plain.image).toHaveLength(3 * 64);
    expect(plain.image[0]).toBeCloseTo(1, 6);
    expect(plain.image[64]).toBeCloseTo(128 / 255, 6);
    expect(plain.image[128]).toBeCloseTo(0, 6);
    const norm = await createSampleReader({ size: { width: 8, height: 4 } }).read(sample(p, null));
    expect([norm.width, norm.height]).toEqual([8, 4]);
    expect(norm.image[0]).toBeCloseTo((1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], 5);
    expect(norm.image[32]).toBeCloseTo((128 / 255 - IMAGENET_MEAN[1]) / IMAGENET_STD[1], 5);
    expect(norm.image[64]).toBeCloseTo((0 - IMAGENET_MEAN[2]) / IMAGENET_STD[2], 5);
    expect(norm.maskKnown).toBe(true);
    expect(norm.mask.every((v) => v === 0)).toBe(true);
  });

  it('resizes the mask by nearest neighbour and applies the same augmentation as the image', async () => {
    const p = join(dir, 'img.png');
    const m = join(dir, 'img_mask.png');
    await writePng(p, solid(16, 16, [10, 20, 30]));
    // The top-left 8x8 quarter is defective.
    await writePng(m, rectMask(16, 16, 0, 0, 8, 8));
    const reader = createSampleReader({ size: 4, normalize: 'none' });
    const plain = await reader.read(sample(p, m));
    expect(Array.from(plain.mask)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const flipped = await reader.read(sample(p, m), { hflip: true, vflip: false, quarterTurns: 0 });
    expect(Array.from(flipped.mask)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(flipped.augmentation.hflip).toBe(true);
  });

  it('refuses a mask of another size, naming it; flags a defect without a mask as unknown', async () => {
    const p = join(dir, 'a.png');
    const m = join(dir, 'a_mask.png');
    await writePng(p, solid(16, 16, [1, 2, 3]));
    await writePng(m, rectMask(12, 16, 0, 0, 2, 2));
    const reader = createSampleReader({ size: 8 });
    await expect(reader.read(sample(p, m))).rejects.toThrow(/a_mask\.png: mask is 12x16 but its image .*a\.png is 16x16/);
    const unknown = await reader.read(sample(p, null, 1));
    expect(unknown.maskKnown).toBe(false);
  });
});
