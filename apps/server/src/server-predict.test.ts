/**
 * POST /predict: image in, score / label / mask / heatmap / map out. The truth is the test model's
 * closed form on the exact pixels sent (images at the model's size, lossless PNG), in float64.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from '@unias/detector';
import {
  decodePng,
  errorMessage,
  nchwOf,
  patternPixels,
  pngOf,
  startTestServer,
  TEST_SIZE,
  type PredictResult,
  type RunningServer,
} from './testing/harness.js';
import { anomalyTestModel, contractMetadata, DEFAULT_TEST_THRESHOLDS, referenceAnomalyMap } from './testing/test-models.js';

const { height: H, width: W } = TEST_SIZE;

async function predict(url: string, body: Buffer, contentType = 'image/png', query = ''): Promise<Response> {
  return fetch(`${url}/predict${query}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
}

describe('POST /predict', () => {
  let s: RunningServer;
  const pixels = patternPixels(W, H);
  const ref = referenceAnomalyMap(nchwOf(pixels, W, H), 1, H, W);

  beforeAll(async () => {
    s = await startTestServer({
      models: [
        { bytes: anomalyTestModel(TEST_SIZE), name: 'anomaly' },
        { bytes: anomalyTestModel({ ...TEST_SIZE, metadata: contractMetadata(H, W, {}) }), name: 'nothreshold' },
      ],
    });
  });
  afterAll(() => s.close());

  it('scores an image and labels it at the stored threshold', async () => {
    const res = await predict(s.url, await pngOf(pixels, W, H));
    expect(res.status).toBe(200);
    const r = (await res.json()) as PredictResult;
    expect(r.model).toBe('anomaly');
    expect(Math.abs(r.score - ref.score[0]!)).toBeLessThan(1e-6);
    expect(r.label).toBe(ref.score[0]! >= DEFAULT_TEST_THRESHOLDS.image ? 'anomalous' : 'normal');
    expect(r.label).toBe('anomalous');
    expect(r.thresholds).toEqual({ image: 0.3, pixel: 0.25, source: 'fixed for tests' });
    expect(r.notes).toEqual([]);
    expect(r.image).toEqual({ width: W, height: H, format: 'png' });
  });

  it('returns the mask at the pixel threshold and the map quantised over its range', async () => {
    const r = (await (await predict(s.url, await pngOf(pixels, W, H))).json()) as PredictResult;
    const mask = await decodePng(r.mask!);
    expect([mask.width, mask.height]).toEqual([W, H]);
    let compared = 0;
    for (let p = 0; p < W * H; p++) {
      const v = ref.map[p]!;
      if (Math.abs(v - 0.25) < 1e-6) continue; // float32 vs float64 at the edge
      expect(mask.data[p * mask.channels]).toBe(v >= 0.25 ? 255 : 0);
      compared++;
    }
    expect(compared).toBeGreaterThan(W * H * 0.9);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ref.map) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(Math.abs(r.map.min - min)).toBeLessThan(1e-6);
    expect(Math.abs(r.map.max - max)).toBeLessThan(1e-6);
    const map = await decodePng(r.map.png);
    for (let p = 0; p < W * H; p++) {
      const expected = ((ref.map[p]! - min) / (max - min)) * 255;
      expect(Math.abs(map.data[p * map.channels]! - expected)).toBeLessThanOrEqual(0.51);
    }
  });

  it('blends a jet heatmap over the image (dark red at the maximum, dark blue at the minimum)', async () => {
    const r = (await (await predict(s.url, await pngOf(pixels, W, H))).json()) as PredictResult;
    const heat = await decodePng(r.heatmap);
    expect([heat.width, heat.height, heat.channels]).toEqual([W, H, 3]);
    const argOf = (better: (a: number, b: number) => boolean): number => {
      let best = 0;
      for (let p = 1; p < W * H; p++) if (better(ref.map[p]!, ref.map[best]!)) best = p;
      return best;
    };
    // jet(1) = (0.5, 0, 0), jet(0) = (0, 0, 0.5); overlay = 0.5 * image + 0.5 * jet.
    for (const [p, jet] of [
      [argOf((a, b) => a > b), [127.5, 0, 0]],
      [argOf((a, b) => a < b), [0, 0, 127.5]],
    ] as const) {
      for (let c = 0; c < 3; c++) {
        const expected = 0.5 * pixels[p * 3 + c]! + 0.5 * jet[c]!;
        expect(Math.abs(heat.data[p * 3 + c]! - expected)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('refuses form and empty content types (sent cross-site without a preflight), and formats it does not document', async () => {
    const png = await pngOf(pixels, W, H);
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'part.png');
    const multipart = await fetch(`${s.url}/predict`, { method: 'POST', body: form });
    expect(multipart.status).toBe(415);
    expect(await errorMessage(multipart)).toMatch(/content type 'multipart\/form-data' is not accepted by \/predict/);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', '']) {
      const res = await fetch(`${s.url}/predict`, { method: 'POST', headers: type ? { 'Content-Type': type } : {}, body: new Blob([png]) });
      expect(res.status, type).toBe(415);
      await res.arrayBuffer();
    }
    // SVG is refused by its bytes whatever the declared type (libvips would parse it and could fetch
    // what it references); GIF is readable by sharp but not documented.
    const svg = Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><image href="http://127.0.0.1:1/x.png" width="${W}" height="${H}"/></svg>`,
    );
    const gif = await sharp(Buffer.from(pixels), { raw: { width: W, height: H, channels: 3 } })
      .gif()
      .toBuffer();
    for (const [what, bytes, type] of [
      ['svg', svg, 'image/svg+xml'],
      ['svg as png', svg, 'image/png'],
      ['gif', gif, 'image/gif'],
    ] as const) {
      const res = await predict(s.url, bytes, type);
      expect(res.status, what).toBe(415);
      expect(await errorMessage(res), what).toMatch(/the image is not PNG, JPEG, WebP or TIFF/);
    }
    // The documented ones all decode to the same score (lossless: PNG, WebP lossless, TIFF).
    for (const [what, bytes] of [
      [
        'webp',
        await sharp(Buffer.from(pixels), { raw: { width: W, height: H, channels: 3 } })
          .webp({ lossless: true })
          .toBuffer(),
      ],
      [
        'tiff',
        await sharp(Buffer.from(pixels), { raw: { width: W, height: H, channels: 3 } })
          .tiff({ compression: 'lzw' })
          .toBuffer(),
      ],
    ] as const) {
      const res = await predict(s.url, bytes, 'application/octet-stream');
      expect(res.status, what).toBe(200);
      const r = (await res.json()) as PredictResult;
      expect(Math.abs(r.score - ref.score[0]!), what).toBeLessThan(1e-6);
    }
  });

  it('resizes any size, composites alpha over black, expands grey, decodes JPEG', async () => {
    // A solid colour stays solid through any resize: score = mean |c/255 - 0.5| in closed form.
    const colour = { r: 200, g: 10, b: 128 };
    const expected = (Math.abs(200 / 255 - 0.5) + Math.abs(10 / 255 - 0.5) + Math.abs(128 / 255 - 0.5)) / 3;
    const big = await sharp({ create: { width: 97, height: 61, channels: 3, background: colour } })
      .png()
      .toBuffer();
    const r1 = (await (await predict(s.url, big)).json()) as PredictResult;
    expect(Math.abs(r1.score - expected)).toBeLessThan(1e-6);
    expect(r1.image).toEqual({ width: 97, height: 61, format: 'png' });
    expect(r1.label).toBe('normal');

    // The image contract composites alpha over black: c/255 * alpha, alpha as stored in the file (at
    // the model's size: a resize of RGBA goes through sharp's premultiplied alpha, which rounds).
    const translucent = await sharp({ create: { width: W, height: H, channels: 4, background: { ...colour, alpha: 0.5 } } })
      .png()
      .toBuffer();
    const alpha = (await sharp(translucent).raw().toBuffer())[3]! / 255;
    const overBlack = [200, 10, 128].reduce((a, c) => a + Math.abs((c / 255) * alpha - 0.5), 0) / 3;
    const rA = (await (await predict(s.url, translucent)).json()) as PredictResult;
    expect(Math.abs(rA.score - overBlack)).toBeLessThan(1e-6);

    const grey = await sharp({ create: { width: 20, height: 40, channels: 3, background: { r: 51, g: 51, b: 51 } } })
      .greyscale()
      .png()
      .toBuffer();
    const r2 = (await (await predict(s.url, grey)).json()) as PredictResult;
    expect(Math.abs(r2.score - Math.abs(51 / 255 - 0.5))).toBeLessThan(1e-6);

    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: colour } })
      .jpeg({ quality: 95 })
      .toBuffer();
    const r3 = (await (await predict(s.url, jpeg, 'image/jpeg')).json()) as PredictResult;
    expect(r3.image.format).toBe('jpeg');
    expect(Math.abs(r3.score - expected)).toBeLessThan(0.02); // JPEG is lossy
  });

  it('without stored thresholds: label and mask are null and the response says why', async () => {
    const png = await pngOf(pixels, W, H);
    const r = (await (await predict(s.url, png, 'image/png', '?model=nothreshold')).json()) as PredictResult;
    expect(r.model).toBe('nothreshold');
    expect(r.label).toBeNull();
    expect(r.mask).toBeNull();
    expect(r.thresholds).toEqual({ image: null, pixel: null, source: null });
    expect(r.notes.join(' ')).toMatch(/no image threshold \(unias\.threshold\.image\).*label is null/);
    expect(r.notes.join(' ')).toMatch(/no pixel threshold/);
    expect(Math.abs(r.score - ref.score[0]!)).toBeLessThan(1e-6);

    const given = (await (await predict(s.url, png, 'image/png', '?model=nothreshold&image_threshold=0.9&pixel_threshold=0.4')).json()) as PredictResult;
    expect(given.label).toBe('normal');
    expect(given.thresholds).toEqual({ image: 0.9, pixel: 0.4, source: 'request' });
    expect(given.mask).not.toBeNull();
    const bad = await predict(s.url, png, 'image/png', '?image_threshold=abc');
    expect(bad.status).toBe(400);
    expect(await errorMessage(bad)).toMatch(/image_threshold=abc is not a finite number/);
  });
});

/**
 * /predict and `@unias/detector` share the result rules (thresholds, label, mask, score) and the
 * image contract; the server keeps its pictures at the model's input size. The same model file and
 * image through both must agree: exactly at the model's size, and in score, label and the model-size
 * map for a non-square image of another size.
 */
describe('POST /predict agrees with @unias/detector on the same model file', () => {
  let s: RunningServer;
  let dir: string;
  let detector: Detector;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unias-server-detector-'));
    const file = join(dir, 'anomaly.onnx');
    await writeFile(file, anomalyTestModel(TEST_SIZE));
    s = await startTestServer({ models: [{ path: file, name: 'anomaly' }] });
    detector = await createDetector(file, { device: 'cpu', threads: 1 });
  });
  afterAll(async () => {
    await detector?.dispose();
    await s?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the same score, label, thresholds, mask and map range for an image at the model size', async () => {
    const png = await pngOf(patternPixels(W, H), W, H);
    const r = (await (await predict(s.url, png)).json()) as PredictResult;
    const d = await detector.detect(png);
    expect(r.score).toBe(d.score);
    expect(r.label).toBe(d.label);
    expect(r.label).not.toBeNull();
    expect(r.thresholds).toEqual(d.thresholds);
    expect(Buffer.from(r.mask!, 'base64')).toEqual(await d.maskPng());
    expect([r.map.min, r.map.max]).toEqual([Math.min(...d.map), Math.max(...d.map)]);
  });

  it("gives the same score and label for a non-square image; the detector's map is at the image's size", async () => {
    const [w, h] = [57, 23];
    const png = await pngOf(patternPixels(w, h), w, h);
    const r = (await (await predict(s.url, png)).json()) as PredictResult;
    const d = await detector.detect(png);
    expect(r.score).toBe(d.score);
    expect(r.label).toBe(d.label);
    expect([r.width, r.height, r.image.width, r.image.height]).toEqual([W, H, w, h]);
    expect([d.width, d.height, d.map.length]).toEqual([w, h, w * h]);
    expect([r.map.min, r.map.max]).toEqual([Math.min(...d.modelMap.data), Math.max(...d.modelMap.data)]);
  });
});
