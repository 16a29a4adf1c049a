/**
 * decodeImageBytes (uploads) against decodeImage (files) and against pixel values computed here:
 * 16-bit RGBA over black, EXIF orientation 3, CMYK JPEG, and the limits' errors.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, decodeImageBytes } from './decode.js';
import { ImageDecodeError } from './errors.js';
import { makeTempDir, pngBytes } from './testing/images.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('bytes'));
});
afterAll(() => cleanup());

describe('decodeImageBytes', () => {
  it('gives exactly what decodeImage gives for the same file, resized or not', async () => {
    const data = Uint8Array.from({ length: 37 * 23 * 3 }, (_, i) => (i * 7919) % 256);
    const bytes = await pngBytes({ width: 37, height: 23, channels: 3, data });
    const path = join(dir, 'same.png');
    await writeFile(path, bytes);
    for (const size of [undefined, { width: 16, height: 32 }]) {
      const a = await decodeImage(path, size ? { size } : {});
      const b = await decodeImageBytes(bytes, 'upload', size ? { size } : {});
      expect([b.width, b.height]).toEqual([a.width, a.height]);
      expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
    }
  });

  it('composites 16-bit RGBA over black at 16-bit precision', async () => {
    const px = [
      [65535, 30000, 1, 65535],
      [65535, 30000, 1, 32768],
      [1000, 2000, 3000, 0],
    ];
    const img = await decodeImageBytes(await pngBytes({ width: 3, height: 1, channels: 4, data: Uint16Array.from(px.flat()) }), 'rgba16');
    expect(img.source.bitDepth).toBe(16);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 3; i++) expect(img.data[c * 3 + i]).toBeCloseTo((px[i]![c]! / 65535) * (px[i]![3]! / 65535), 7);
    }
  });

  it('applies EXIF orientation 3 (180 degrees): the first pixel is the stored last one', async () => {
    const data = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220]); // 4 x 1 RGB... as 2 x 2
    const png = await sharp(data, { raw: { width: 2, height: 2, channels: 3 } })
      .png()
      .withMetadata({ orientation: 3 })
      .toBuffer();
    const img = await decodeImageBytes(png, 'turned');
    expect(img.source.orientation).toBe(3);
    // rotated 180: out(y, x) = raw(1 - y, 1 - x)
    for (let p = 0; p < 4; p++) for (let c = 0; c < 3; c++) expect(img.data[c * 4 + p]).toBeCloseTo(data[(3 - p) * 3 + c]! / 255, 6);
  });

  it('reads a CMYK JPEG as RGB (not as RGBA)', async () => {
    const rgb = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => [200, 40, 90][i % 3]!);
    const cmyk = await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const img = await decodeImageBytes(cmyk, 'cmyk.jpg');
    // sRGB -> CMYK -> sRGB through libvips' profiles is not an exact round trip: within 25/255
    for (let c = 0; c < 3; c++) expect(Math.abs(img.data[c * 256 + 100]! * 255 - [200, 40, 90][c]!)).toBeLessThan(25);
  });

  it('names the bytes in its errors; over the pixel limit says so', async () => {
    const err = await decodeImageBytes(Buffer.from('not an image'), 'the request body').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as Error).message).toMatch(/^the request body: cannot decode image/);
    const big = await pngBytes({ width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3) });
    await expect(decodeImageBytes(big, 'big.png', { limitInputPixels: 1000 })).rejects.toThrow(/big\.png: .*pixel limit/);
    expect((await decodeImageBytes(big, 'big.png', { limitInputPixels: 1200 })).width).toBe(40);
  });
});
