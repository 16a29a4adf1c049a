/**
 * The one-call detector on a tiny UniAS model in every format the project writes. The truths it is
 * checked against are computed here, not by the detector: onnxruntime run directly on the exported
 * file with the image decoded by @unias/image's decodeImage; the image's own size from the PNG that
 * was written; the mask from the map and the threshold; the PNGs decoded again with sharp.
 * Only `@unias/detector` (by its package name) and the libraries below it are imported: no apps/cli.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@unias/image';
import { createDetector, DetectorInputError, type Detection, type Detector } from '@unias/detector';
import { TINY_INPUT, texture, texturePng, tinyModelFiles, type TinyModelFiles } from './testing/tiny-model.js';

const [H, W] = TINY_INPUT;
/** The image's own size: non-square, larger than the model's 64 x 32 in both axes, in another aspect ratio. */
const IMAGE = { width: 75, height: 41 };
/**
 * Graph vs the exported ONNX file, absolute, on maps up to about 2: a run directory on the onnx
 * backend lowers to the same ONNX (measured: 0); tfjs sums float32 in other orders (measured 1.3e-6).
 */
const GRAPH_VS_ONNX = 1e-5;

let files: TinyModelFiles;
let imagePath: string;
let pngBytes: Buffer;
let onnxDetector: Detector;

/** The exported file on onnxruntime directly, the image decoded by the image contract: the reference. */
async function referenceRun(path: string): Promise<{ map: Float32Array; score: number }> {
  const session = await ort.InferenceSession.create(files.onnx);
  try {
    const d = await decodeImage(path, { size: { width: W, height: H } });
    const out = await session.run({ image: new ort.Tensor('float32', d.data, [1, 3, H, W]) });
    return { map: Float32Array.from(out['anomaly_map']!.data as Float32Array), score: (out['score']!.data as Float32Array)[0]! };
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function writeTemp(name: string, bytes: Buffer): Promise<string> {
  const path = join(files.dir, name);
  await writeFile(path, bytes);
  return path;
}

function median(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  return s[Math.floor(s.length / 2)]!;
}

beforeAll(async () => {
  files = await tinyModelFiles();
  pngBytes = await texturePng(IMAGE.width, IMAGE.height, 1);
  imagePath = join(files.dir, 'part.png');
  await writeFile(imagePath, pngBytes);
  onnxDetector = await createDetector(files.onnx, { device: 'cpu', threads: 1 });
}, 120_000);

afterAll(async () => {
  await onnxDetector?.dispose();
  await files?.cleanup();
});

describe('createDetector reads every model format', () => {
  it('an exported .onnx gives exactly what onnxruntime gives on the contract-decoded image', async () => {
    const ref = await referenceRun(imagePath);
    const d = await onnxDetector.detect(imagePath);
    expect(onnxDetector.inputSize).toEqual([H, W]);
    expect(d.modelMap.width).toBe(W);
    expect(d.modelMap.height).toBe(H);
    expect(Array.from(d.modelMap.data)).toEqual(Array.from(ref.map));
    expect(d.score).toBe(ref.score);
    // the map is not flat: a test of equal maps must be able to fail
    expect(Math.max(...ref.map) - Math.min(...ref.map)).toBeGreaterThan(1e-3);
  });

  it.each([
    ['a run directory (onnx backend)', () => files.runDir, 'onnx'],
    ['a model.safetensors (tfjs backend)', () => files.safetensors, 'tfjs'],
  ] as const)(
    `%s gives the .onnx file's score and map within ${GRAPH_VS_ONNX}`,
    async (_what, path, backend) => {
      const ref = await onnxDetector.detect(imagePath);
      const detector = await createDetector(path(), { device: 'cpu', backend, threads: 1 });
      try {
        expect(detector.classes).toEqual(['tiny']);
        const d = await detector.detect(imagePath);
        expect(Math.abs(d.score - ref.score)).toBeLessThan(GRAPH_VS_ONNX);
        expect(maxAbsDiff(d.modelMap.data, ref.modelMap.data)).toBeLessThan(GRAPH_VS_ONNX);
        expect(maxAbsDiff(d.map, ref.map)).toBeLessThan(GRAPH_VS_ONNX);
      } finally {
        await detector.dispose();
      }
    },
    120_000,
  );
});

describe('detect', () => {
  it('gives identical results for a file path, a Buffer of its bytes and its raw pixels', async () => {
    const fromPath = await onnxDetector.detect(imagePath);
    const fromBuffer = await onnxDetector.detect(pngBytes);
    const fromPixels = await onnxDetector.detect({ data: texture(IMAGE.width, IMAGE.height, 1), ...IMAGE, channels: 3 });
    for (const d of [fromBuffer, fromPixels]) {
      expect(d.score).toBe(fromPath.score);
      expect(Array.from(d.map)).toEqual(Array.from(fromPath.map));
      expect([d.width, d.height]).toEqual([fromPath.width, fromPath.height]);
      expect(await d.overlayPng()).toEqual(await fromPath.overlayPng());
    }
    expect(fromBuffer.name).toMatch(/a Buffer of \d+ bytes/);
    expect(fromPixels.name).toBe('raw pixels 75x41x3');
  });

  it('gives identical results for grey, RGBA and 16-bit raw pixels and the PNG files of the same samples', async () => {
    const rgb = texture(IMAGE.width, IMAGE.height, 7);
    const n = IMAGE.width * IMAGE.height;
    const grey = Uint8Array.from({ length: n }, (_, i) => rgb[i * 3]!);
    const rgba = Uint8Array.from({ length: n * 4 }, (_, i) => (i % 4 === 3 ? 128 + (i % 7) * 16 : rgb[Math.floor(i / 4) * 3 + (i % 4)]!));
    const deep = Uint16Array.from(rgb, (v, i) => v * 257 + (i % 3) * 11);
    const cases = [
      { pixels: { data: grey, ...IMAGE, channels: 1 as const }, png: sharp(Buffer.from(grey), { raw: { ...IMAGE, channels: 1 } }).toColourspace('b-w') },
      { pixels: { data: rgba, ...IMAGE, channels: 4 as const }, png: sharp(Buffer.from(rgba), { raw: { ...IMAGE, channels: 4 } }) },
      { pixels: { data: deep, ...IMAGE, channels: 3 as const }, png: sharp(deep, { raw: { ...IMAGE, channels: 3 } }).toColourspace('rgb16') },
    ];
    // the 16-bit truth file is 16 bits, sample for sample
    const deepPng = await cases[2]!.png.clone().png().toBuffer();
    expect((await sharp(deepPng).metadata()).depth).toBe('ushort');
    const decoded = await decodeImage(await writeTemp('deep.png', deepPng));
    expect(decoded.data[1]).toBeCloseTo(deep[3]! / 65535, 6);
    expect(decoded.data[n + 1]).toBeCloseTo(deep[4]! / 65535, 6);
    const scores = new Set<number>();
    for (const c of cases) {
      const file = await c.png.png().toBuffer();
      const fromFile = await onnxDetector.detect(file);
      const fromPixels = await onnxDetector.detect(c.pixels);
      expect(fromPixels.score).toBe(fromFile.score);
      expect(Array.from(fromPixels.map)).toEqual(Array.from(fromFile.map));
      scores.add(fromFile.score);
    }
    // three different images: a decoder that dropped alpha or depth would not give three scores
    expect(scores.size).toBe(3);
  });

  it('takes the size after EXIF orientation (a JPEG stored 75x41, rotated to 41x75)', async () => {
    const jpeg = await sharp(Buffer.from(texture(IMAGE.width, IMAGE.height, 1)), { raw: { ...IMAGE, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const d = await onnxDetector.detect(jpeg);
    expect([d.width, d.height, d.map.length]).toEqual([IMAGE.height, IMAGE.width, IMAGE.width * IMAGE.height]);
    expect((await sharp(await d.overlayPng()).metadata()).width).toBe(IMAGE.height);
  });

  it("gives the map at the image's own (non-square) size, the model's map resized", async () => {
    const d = await onnxDetector.detect(imagePath);
    expect([d.width, d.height]).toEqual([IMAGE.width, IMAGE.height]);
    expect(d.map.length).toBe(IMAGE.width * IMAGE.height);
    // upsampled in both axes (41 > 32, 75 > 64): bilinear with clamped edges keeps the corners exactly
    const m = d.modelMap.data;
    const at = (x: number, y: number): number => d.map[y * IMAGE.width + x]!;
    expect(at(0, 0)).toBeCloseTo(m[0]!, 6);
    expect(at(IMAGE.width - 1, 0)).toBeCloseTo(m[W - 1]!, 6);
    expect(at(0, IMAGE.height - 1)).toBeCloseTo(m[(H - 1) * W]!, 6);
    expect(at(IMAGE.width - 1, IMAGE.height - 1)).toBeCloseTo(m[H * W - 1]!, 6);
    // and stays within the model map's range
    expect(Math.min(...d.map)).toBeGreaterThanOrEqual(Math.min(...m) - 1e-6);
    expect(Math.max(...d.map)).toBeLessThanOrEqual(Math.max(...m) + 1e-6);
  });

  it('has no label and no mask without thresholds, and both with them; mask = map >= threshold', async () => {
    const plain = await onnxDetector.detect(imagePath);
    expect(plain.label).toBeNull();
    expect(plain.mask).toBeNull();
    expect(await plain.maskPng()).toBeNull();
    const threshold = median(plain.map);
    const detector = await createDetector(files.onnx, { device: 'cpu', threads: 1, threshold, imageThreshold: plain.score + 1 });
    try {
      const d = await detector.detect(imagePath);
      expect(d.thresholds).toEqual({ image: plain.score + 1, pixel: threshold, source: 'given to the detector' });
      expect(d.label).toBe('normal');
      const want = Uint8Array.from(plain.map, (v) => (v >= threshold ? 1 : 0));
      expect(Array.from(d.mask!)).toEqual(Array.from(want));
      const on = want.reduce((a, v) => a + v, 0);
      expect(on).toBeGreaterThan(0);
      expect(on).toBeLessThan(want.length);
      expect(d.anomalousFraction).toBeCloseTo(on / want.length, 12);
    } finally {
      await detector.dispose();
    }
    const low = await createDetector(files.onnx, { device: 'cpu', threads: 1, imageThreshold: plain.score });
    try {
      expect((await low.detect(imagePath)).label).toBe('anomalous');
    } finally {
      await low.dispose();
    }
  }, 60_000);

  it('encodes heat map, overlay and mask PNGs that decode back at the image size', async () => {
    const threshold = median((await onnxDetector.detect(imagePath)).map);
    const detector = await createDetector(files.onnx, { device: 'cpu', threads: 1, threshold });
    try {
      const d = await detector.detect(imagePath);
      const check = async (png: Buffer | null, channels: number): Promise<void> => {
        const meta = await sharp(png!).metadata();
        expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', IMAGE.width, IMAGE.height, channels]);
      };
      await check(await d.heatmapPng(), 3);
      await check(await d.overlayPng(), 3);
      await check(await d.maskPng(), 1);
      const mask = await sharp((await d.maskPng())!)
        .extractChannel(0)
        .raw()
        .toBuffer();
      expect(Array.from(mask)).toEqual(Array.from(d.mask!, (v) => v * 255));
      expect(new Set(mask)).toEqual(new Set([0, 255]));
    } finally {
      await detector.dispose();
    }
  });

  it('names the file or input in its errors', async () => {
    await expect(onnxDetector.detect(join(files.dir, 'missing.png'))).rejects.toThrow(/missing\.png: no such file/);
    await expect(onnxDetector.detect(Buffer.from('not an image at all'))).rejects.toThrow(/a Buffer of 19 bytes/);
    await expect(onnxDetector.detect({ data: new Uint8Array(5), width: 2, height: 2, channels: 3 })).rejects.toThrow(
      /raw pixels 2x2x3: expected 12 samples, got 5/,
    );
    const notImage = join(files.dir, 'notes.png');
    await writeFile(notImage, 'plain text');
    await expect(onnxDetector.detect(notImage)).rejects.toThrow(/notes\.png/);
    const small = await createDetector(files.onnx, { device: 'cpu', threads: 1, maxInputPixels: 1000 });
    try {
      await expect(small.detect(imagePath)).rejects.toThrow(/part\.png: .*pixel limit/);
    } finally {
      await small.dispose();
    }
    await expect(createDetector(join(files.dir, 'nothing-here'))).rejects.toThrow(DetectorInputError);
    await expect(createDetector(imagePath)).rejects.toThrow(/part\.png: no UniAS model here/);
  });
});

describe('detectMany', () => {
  it('yields one detection per input in input order, with progress after each batch', async () => {
    const pngs = await Promise.all([2, 3, 4, 5, 6].map((seed) => texturePng(40 + seed, 30 + 2 * seed, seed)));
    const progress: Array<[number, number]> = [];
    const got: Detection[] = [];
    for await (const d of onnxDetector.detectMany(pngs, { batchSize: 2, onProgress: (done, total) => progress.push([done, total]) })) got.push(d);
    expect(progress).toEqual([
      [2, 5],
      [4, 5],
      [5, 5],
    ]);
    expect(got.map((d) => [d.width, d.height])).toEqual([2, 3, 4, 5, 6].map((seed) => [40 + seed, 30 + 2 * seed]));
    for (let i = 0; i < pngs.length; i++) {
      const one = await onnxDetector.detect(pngs[i]!);
      expect(got[i]!.score).toBeCloseTo(one.score, 5);
      expect(maxAbsDiff(got[i]!.map, one.map)).toBeLessThan(1e-5);
    }
    // distinct images: the order check above could not pass by accident
    expect(new Set(got.map((d) => d.score)).size).toBe(5);
  });
});
