/**
 * One image contract from training to serving (issue #12): the same image files through
 * `unias predict`, the server's POST /predict and KServe v2 `infer` after the client-side
 * preprocessing that docs/exported-model.md documents (its code block is run here as written) give
 * identical scores and maps. Also: `decodeImage` (what training and evaluation read) gives exactly
 * the documented tensor.
 *
 * The model is a closed form built in the test (map = mean over channels of |image - 0.5| plus a
 * 3x3 box blur of it, so both pixel values and their neighbours matter), non-square (H 32, W 48) so
 * a swapped width and height shows. The images are generated: square and non-square, larger and
 * smaller than the input, exactly its size, grey, grey + alpha, RGBA, 16-bit, CMYK and an EXIF-rotated JPEG.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toOnnxModel } from '@unias/backend-onnx';
import { createSampleReader } from '@unias/datasets';
import { createGraph } from '@unias/graph';
import { decodeImage, preprocessingMetadata, quantize, rangeOf, renderMap, type ImageSize } from '@unias/image';
import { runCli, startServe, tempDir, type ServeChild } from '../testing/helpers.js';

const H = 32;
const W = 48;
const PIXEL_THRESHOLD = 0.2;
const DOCS = fileURLToPath(new URL('../../../../docs/exported-model.md', import.meta.url));

/** The ONNX pipeline contract (docs/exported-model.md) with a closed-form map. */
function contractModel(extraMetadata: Record<string, string> = {}): Uint8Array {
  const b = createGraph();
  const image = b.input('image', [1, 3, H, W]);
  const dist = b.mean(b.abs(b.sub(image, 0.5)), [1], true);
  const map = b.add(dist, b.avgPool2d(dist, 3, { stride: 1, padding: 1, countIncludePad: false }));
  b.output('anomaly_map', map);
  b.output('score', b.max(map, [1, 2, 3]));
  return toOnnxModel(b.build(), {
    dynamicBatch: true,
    graphName: 'image_contract_test',
    metadata: {
      'unias.format': '1',
      'unias.input_size': `${H},${W}`,
      'unias.preset': 'test',
      'unias.backbone': 'none',
      'unias.threshold.image': '0.3',
      'unias.threshold.pixel': String(PIXEL_THRESHOLD),
      'unias.threshold.source': 'fixed for tests',
      ...preprocessingMetadata(),
      ...extraMetadata,
    },
  });
}

/** Texture with detail at every scale, so that any other kernel, fit or axis order changes the map. */
function pattern(width: number, height: number, channels: number, max: number, seed: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = 0.5 + 0.25 * Math.sin((x * (c + 1) + seed) * 0.9) * Math.cos(y * 0.37 * (c + 2)) + 0.2 * (((x * 7 + y * 13 + c * 5 + seed) % 11) / 10 - 0.5);
        out.push(Math.round(Math.min(1, Math.max(0, v)) * max));
      }
    }
  }
  return out;
}

function raw(width: number, height: number, channels: 1 | 2 | 3 | 4, seed: number, sixteen = false) {
  const values = pattern(width, height, channels, sixteen ? 65535 : 255, seed);
  const data = sixteen ? Uint16Array.from(values) : Uint8Array.from(values);
  return sharp(data, { raw: { width, height, channels } });
}

/** name -> file bytes; sizes are width x height. */
async function makeImages(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const images = [
    { name: 'rgb-wide-larger.png', bytes: await raw(203, 97, 3, 1).png().toBuffer() },
    { name: 'rgb-square-larger.png', bytes: await raw(120, 120, 3, 2).png().toBuffer() },
    { name: 'rgb-exact-size.png', bytes: await raw(W, H, 3, 3).png().toBuffer() },
    { name: 'grey-tall-smaller.png', bytes: await raw(13, 29, 1, 4).toColourspace('b-w').png().toBuffer() },
    { name: 'rgba-square-smaller.png', bytes: await raw(20, 20, 4, 5).png().toBuffer() },
    { name: 'rgb16-wide.png', bytes: await raw(90, 40, 3, 6, true).toColourspace('rgb16').png().toBuffer() },
    { name: 'grey16-square.png', bytes: await raw(64, 64, 1, 7, true).toColourspace('grey16').png().toBuffer() },
    { name: 'exif-rotated.jpg', bytes: await raw(80, 50, 3, 8).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toBuffer() },
    { name: 'grey-alpha.png', bytes: await raw(70, 41, 2, 9).toColourspace('b-w').png().toBuffer() },
    { name: 'cmyk.jpg', bytes: await raw(57, 66, 3, 10).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer() },
  ];
  // the files are what their names say (sharp writes some raw layouts otherwise unless told)
  const expected: Record<string, [number, string]> = {
    'grey-tall-smaller.png': [1, 'b-w'],
    'grey-alpha.png': [2, 'b-w'],
    'rgba-square-smaller.png': [4, 'srgb'],
    'rgb16-wide.png': [3, 'rgb16'],
    'grey16-square.png': [1, 'grey16'],
    'cmyk.jpg': [4, 'cmyk'],
  };
  for (const img of images) {
    const meta = await sharp(img.bytes).metadata();
    if (expected[img.name]) expect([meta.channels, meta.space], img.name).toEqual(expected[img.name]);
  }
  return images;
}

/** The code block of docs/exported-model.md between the client-preprocessing markers, as a function. */
async function documentedPreprocessing(): Promise<(bytes: Buffer, height: number, width: number) => Promise<Float32Array>> {
  const md = await readFile(DOCS, 'utf8');
  const block = /<!-- client-preprocessing:start -->\s*```js\n([\s\S]*?)```\s*<!-- client-preprocessing:end -->/.exec(md);
  if (!block) throw new Error(`${DOCS}: no client-preprocessing code block`);
  const code = block[1]!.replace("import sharp from 'sharp';", '');
  return new Function('sharp', `${code}\nreturn imageTensor;`)(sharp) as (bytes: Buffer, height: number, width: number) => Promise<Float32Array>;
}

interface InferOutput {
  readonly name: string;
  readonly shape: number[];
  readonly data: number[];
}

async function infer(url: string, tensor: Float32Array): Promise<{ map: Float32Array; score: number }> {
  const res = await fetch(`${url}/v2/models/contract/infer`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: Array.from(tensor) }] }),
  });
  expect(res.status).toBe(200);
  const out = ((await res.json()) as { outputs: InferOutput[] }).outputs;
  const map = out.find((o) => o.name === 'anomaly_map')!;
  expect(map.shape).toEqual([1, 1, H, W]);
  return { map: Float32Array.from(map.data), score: out.find((o) => o.name === 'score')!.data[0]! };
}

interface PredictAnswer {
  readonly score: number;
  readonly image: { width: number; height: number };
  readonly map: { png: string; min: number; max: number; width: number; height: number };
}

/** A PNG's pixels; `grey` reads one channel (sharp's raw output is RGB unless asked). */
async function pngPixels(png: Buffer, grey = false): Promise<{ data: Buffer; size: ImageSize }> {
  const img = sharp(png);
  const { data, info } = await (grey ? img.toColourspace('b-w') : img).raw().toBuffer({ resolveWithObject: true });
  return { data, size: { width: info.width, height: info.height } };
}

describe('image contract: unias predict, POST /predict and KServe infer', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let serve: ServeChild;
  let images: Array<{ name: string; bytes: Buffer }>;
  const modelPath = (): string => join(tmp.dir, 'contract.onnx');

  beforeAll(async () => {
    tmp = await tempDir('image-contract');
    await writeFile(modelPath(), contractModel());
    images = await makeImages();
    for (const img of images) await writeFile(join(tmp.dir, img.name), img.bytes);
    serve = await startServe(['--model', `contract=${modelPath()}`, '--threads', '1']);
  });
  afterAll(async () => {
    await serve?.stop();
    await tmp?.cleanup();
  });

  it('training and evaluation (the sample reader) and decodeImage give exactly the documented client tensor', async () => {
    const documented = await documentedPreprocessing();
    // what train-run.ts, evaluate.ts, thresholds.ts and knn-fit.ts read images with
    const reader = createSampleReader({ size: { width: W, height: H }, normalize: 'none' });
    for (const img of images) {
      const path = join(tmp.dir, img.name);
      const theirs = Buffer.from((await documented(img.bytes, H, W)).buffer);
      const ours = await decodeImage(path, { size: { width: W, height: H } });
      expect([ours.width, ours.height], img.name).toEqual([W, H]);
      expect(Buffer.from(ours.data.buffer).equals(theirs), img.name).toBe(true);
      const sample = await reader.read({ path, className: 'c', split: 'train', label: 0, defectType: 'good', maskPath: null });
      expect(Buffer.from(sample.image.buffer, sample.image.byteOffset, sample.image.byteLength).equals(theirs), img.name).toBe(true);
    }
  });

  it('the same score and map through all three paths, for every image', async () => {
    const documented = await documentedPreprocessing();
    const out = join(tmp.dir, 'predict');
    const run = await runCli(['predict', '--model', modelPath(), ...images.map((i) => join(tmp.dir, i.name)), '--out', out, '--quiet', '--threads', '1']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { images: Array<{ path: string; score: number; heatmap: string }> };
    const scores = new Set<number>();
    for (const img of images) {
      // KServe infer, preprocessed as documented
      const kserve = await infer(serve.url, await documented(img.bytes, H, W));
      scores.add(kserve.score);
      // POST /predict
      const res = await fetch(`${serve.url}/predict?model=contract`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: img.bytes,
      });
      expect(res.status, img.name).toBe(200);
      const predicted = (await res.json()) as PredictAnswer;
      // unias predict
      const row = summary.images.find((r) => r.path.endsWith(img.name))!;

      expect(predicted.score, img.name).toBe(kserve.score);
      expect(row.score, img.name).toBe(kserve.score);
      // /predict's map: 8-bit levels over [min, max] of the model's map, at the model's size.
      const range = rangeOf(kserve.map);
      expect([predicted.map.min, predicted.map.max], img.name).toEqual([range.lo, range.hi]);
      const levels = await pngPixels(Buffer.from(predicted.map.png, 'base64'), true);
      expect(levels.size, img.name).toEqual({ width: W, height: H });
      expect(Buffer.from(levels.data).equals(Buffer.from(quantize(kserve.map, range))), img.name).toBe(true);
      // unias predict's heat map, at the image's own (EXIF-oriented) size, drawn from the same map.
      const heat = await pngPixels(await readFile(join(out, row.heatmap)));
      expect(heat.size, img.name).toEqual({ width: predicted.image.width, height: predicted.image.height });
      const drawn = renderMap({
        map: kserve.map,
        mapSize: { width: W, height: H },
        rgb: new Uint8Array(heat.size.width * heat.size.height * 3),
        size: heat.size,
        scale: { lo: 0, hi: 2 * PIXEL_THRESHOLD },
        threshold: null,
      });
      expect(Buffer.from(heat.data).equals(Buffer.from(drawn.heatmap)), img.name).toBe(true);
    }
    // the images differ, so do their scores (a path that ignored its input would not pass above)
    expect(scores.size).toBe(images.length);
  });

  it('unias predict refuses a model exported with other preprocessing, by its key (/predict: loaded-model.test.ts)', async () => {
    const other = join(tmp.dir, 'cubic.onnx');
    await writeFile(other, contractModel({ 'unias.preprocess.resize': 'cubic' }));
    const run = await runCli(['predict', '--model', other, join(tmp.dir, images[0]!.name), '--out', join(tmp.dir, 'p-cubic'), '--quiet']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(
      /cubic\.onnx: metadata unias\.preprocess\.resize = 'cubic', but images are preprocessed with unias\.preprocess\.resize = 'linear'/,
    );
  });

  it('the EXIF orientation is applied: the rotated JPEG is 50 wide and 80 tall on every path', async () => {
    const res = await fetch(`${serve.url}/predict?model=contract`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg' },
      body: images.find((i) => i.name === 'exif-rotated.jpg')!.bytes,
    });
    expect(((await res.json()) as PredictAnswer).image).toMatchObject({ width: 50, height: 80 });
    const decoded = await decodeImage(join(tmp.dir, 'exif-rotated.jpg'));
    expect([decoded.width, decoded.height]).toEqual([50, 80]);
  });
});
