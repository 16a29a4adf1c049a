import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, decodeMask, readImageHeader, resizeNearest } from './decode.js';
import { ImageDecodeError } from './errors.js';
import { makeTempDir, writeJpeg, writePng } from './testing/images.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('decode'));
});
afterAll(() => cleanup());

function channel(d: Float32Array, plane: number, c: number): number[] {
  return Array.from(d.subarray(c * plane, (c + 1) * plane));
}

describe('decodeImage', () => {
  it('keeps 16-bit grey precision and replicates grey to three channels', async () => {
    const values = Uint16Array.from([1, 300, 12345, 40001, 65534, 65535]);
    const p = join(dir, 'g16.png');
    await writePng(p, { width: 3, height: 2, channels: 1, data: values });
    expect((await readImageHeader(p)).bitDepth).toBe(16);
    const img = await decodeImage(p);
    const want = Array.from(values, (v) => Math.fround(v / 65535));
    for (let c = 0; c < 3; c++) expect(channel(img.data, 6, c)).toEqual(want);
  });

  it('keeps 16-bit RGB precision', async () => {
    const values = Uint16Array.from([1, 2, 3, 1000, 2000, 3000, 65535, 0, 32769, 7, 70, 700]);
    const p = join(dir, 'rgb16.png');
    await writePng(p, { width: 2, height: 2, channels: 3, data: values });
    const img = await decodeImage(p);
    for (let c = 0; c < 3; c++) expect(channel(img.data, 4, c)).toEqual([0, 1, 2, 3].map((i) => Math.fround(values[i * 3 + c]! / 65535)));
  });

  it('reads 8-bit grey as three equal channels', async () => {
    const p = join(dir, 'g8.png');
    await writePng(p, { width: 4, height: 1, channels: 1, data: Uint8Array.from([0, 1, 128, 255]) });
    const img = await decodeImage(p);
    for (let c = 0; c < 3; c++) expect(channel(img.data, 4, c)).toEqual([0, 1, 128, 255].map((v) => Math.fround(v / 255)));
  });

  it('composites RGBA over the background colour', async () => {
    const px = [
      [200, 100, 50, 255],
      [200, 100, 50, 128],
      [200, 100, 50, 0],
      [10, 20, 30, 64],
    ];
    const p = join(dir, 'rgba.png');
    await writePng(p, { width: 4, height: 1, channels: 4, data: Uint8Array.from(px.flat()) });
    const bg = [0.2, 0.4, 1] as const;
    const img = await decodeImage(p, { alphaBackground: bg });
    for (let c = 0; c < 3; c++) {
      const want = px.map((q) => (q[c]! / 255) * (q[3]! / 255) + bg[c]! * (1 - q[3]! / 255));
      channel(img.data, 4, c).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    }
  });

  it('composites grey + alpha over the background colour', async () => {
    const p = join(dir, 'la.png');
    await writePng(p, { width: 3, height: 1, channels: 2, data: Uint8Array.from([200, 255, 200, 51, 90, 0]) });
    expect((await readImageHeader(p)).channels).toBe(2);
    const img = await decodeImage(p, { alphaBackground: [1, 0, 0.5] });
    const a = [1, 0.2, 0];
    const grey = [200, 200, 90].map((v) => v / 255);
    const bg = [1, 0, 0.5];
    for (let c = 0; c < 3; c++) channel(img.data, 3, c).forEach((v, i) => expect(v).toBeCloseTo(grey[i]! * a[i]! + bg[c]! * (1 - a[i]!), 6));
  });

  it('applies the EXIF orientation (tag 6: rotate 90 degrees clockwise)', async () => {
    // Four 8x8 quadrants of distinct colours in a 16x16... made 16 wide, 8 tall to see the rotation.
    const w = 16;
    const h = 8;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(x < 8 ? [230, 20, 20] : [20, 20, 230], (y * w + x) * 3);
    const p = join(dir, 'oriented.jpg');
    await writeJpeg(p, { width: w, height: h, channels: 3, data }, 6);
    const header = await readImageHeader(p);
    expect(header.orientation).toBe(6);
    expect([header.width, header.height]).toEqual([h, w]);
    const img = await decodeImage(p);
    expect([img.width, img.height]).toEqual([8, 16]);
    // Truth: the stored (unrotated) pixels, rotated clockwise here: out(y, x) = raw(h - 1 - x, y).
    const raw = await sharp(p, { autoOrient: false }).raw().toBuffer();
    const plane = img.width * img.height;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        const src = ((h - 1 - x) * w + y) * 3;
        for (let c = 0; c < 3; c++) expect(img.data[c * plane + y * img.width + x]).toBeCloseTo(raw[src + c]! / 255, 6);
      }
    }
    // Red (the raw left half) is now on top, blue below.
    expect(img.data[0]).toBeGreaterThan(0.8);
    expect(img.data[2 * plane + (img.height - 1) * img.width]).toBeGreaterThan(0.8);
  });

  it('resizes bilinearly: a constant image stays constant, a ramp stays monotonic', async () => {
    const p = join(dir, 'ramp.png');
    const data = new Uint8Array(16 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 16; x++) data.set([x * 16, 77, 77], (y * 16 + x) * 3);
    await writePng(p, { width: 16, height: 4, channels: 3, data });
    const img = await decodeImage(p, { size: { width: 4, height: 2 } });
    const r = channel(img.data, 8, 0).slice(0, 4);
    for (let i = 1; i < 4; i++) expect(r[i]!).toBeGreaterThan(r[i - 1]!);
    for (const v of channel(img.data, 8, 1)) expect(v).toBeCloseTo(77 / 255, 2);
  });

  it('names the file when it is missing, truncated or not an image', async () => {
    await expect(decodeImage(join(dir, 'nope.png'))).rejects.toThrow(/nope\.png: file does not exist/);
    const good = join(dir, 'whole.png');
    await writePng(good, { width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7919) % 251) });
    const bytes = await sharp(good).png().toBuffer();
    const cut = join(dir, 'cut.png');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const err = await decodeImage(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).file).toBe(cut);
    const text = join(dir, 'text.png');
    await writeFile(text, 'not an image at all');
    await expect(decodeImage(text)).rejects.toThrow(/text\.png: cannot decode image/);
  });
});

describe('decodeMask', () => {
  it('binarises > 0 (a value of 1 counts, also in 16-bit files)', async () => {
    const p8 = join(dir, 'm8.png');
    await writePng(p8, { width: 4, height: 1, channels: 1, data: Uint8Array.from([0, 1, 37, 255]) });
    expect(Array.from((await decodeMask(p8)).data)).toEqual([0, 1, 1, 1]);
    const p16 = join(dir, 'm16.png');
    await writePng(p16, { width: 4, height: 1, channels: 1, data: Uint16Array.from([0, 1, 255, 65535]) });
    expect(Array.from((await decodeMask(p16)).data)).toEqual([0, 1, 1, 1]);
  });

  it('resizes by nearest neighbour after binarising: 2x2 blocks shrink to single pixels', async () => {
    // 8x8 of uniform 2x2 blocks with values 0, 1, 100, 255: the 4x4 result must be exactly the blocks > 0.
    const vals = [0, 1, 100, 255];
    const blocks = Array.from({ length: 16 }, (_, i) => vals[(i * 7) % 4]!);
    const data = new Uint8Array(64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) data[y * 8 + x] = blocks[(y >> 1) * 4 + (x >> 1)]!;
    const p = join(dir, 'blocks.png');
    await writePng(p, { width: 8, height: 8, channels: 1, data });
    const m = await decodeMask(p, { width: 4, height: 4 });
    expect(Array.from(m.data)).toEqual(blocks.map((v) => (v > 0 ? 1 : 0)));
    // Upscaling repeats pixels: each source pixel becomes a 2x2 block.
    const up = await decodeMask(p, { width: 16, height: 16 });
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) expect(up.data[y * 16 + x]).toBe(data[(y >> 1) * 8 + (x >> 1)]! > 0 ? 1 : 0);
  });

  it('samples pixel centres for non-integer scales', () => {
    const src = Uint8Array.from({ length: 10 }, (_, i) => i);
    // out x covers [x*2.5, (x+1)*2.5): its centre (x + 0.5) * 2.5 falls in pixel 1, 3, 6, 8.
    expect(Array.from(resizeNearest(src, { width: 10, height: 1 }, { width: 4, height: 1 }))).toEqual([1, 3, 6, 8]);
  });
});
