/**
 * Seeded fuzzing of what clients send: KServe v2 JSON requests, binary tensor requests and images
 * for /predict, each mutated at random from a valid request. Every case must end in a 200 (a
 * harmless mutation) or a 4xx with a JSON error: never a 5xx, a dropped connection, a hang (each
 * request has a time limit) or growing memory. The seed is fixed; a failure names the case number,
 * which replays with the same seed.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryInferBody, patternPixels, pngOf, startTestServer, TEST_SIZE, type RunningServer } from './testing/harness.js';

const { height: H, width: W } = TEST_SIZE;
const SEED = 0x5eed13;
const PER_REQUEST_MS = 15_000;

/** mulberry32: a small seeded generator (uniform in [0, 1)). */
function rngOf(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  1.5,
  'FP32',
  '',
  'x'.repeat(300),
  [],
  {},
  [[]],
  [1, 2, 3],
  { a: 1 },
  [-1, 3, H, W],
  [1e12, 3, H, W],
  [1, 3, H],
  [0, 3, H, W],
  [2 ** 31, 2 ** 31, 2 ** 31, 2 ** 31],
  'image',
  'INT64',
  'BYTES',
  'FP16',
];
const ODD_TOKENS = ['[', ']', '{', '}', '"', ',', ':', '1e999', '-', 'null', '\\u0000', '\\ud800', '9'.repeat(400), '[[[[[[[[[[', '"\\', '\u0000', '\uffff'];

/** Mutates bytes: flips, truncation, insertion, duplication of a slice. */
function mutateBytes(rng: Rng, input: Buffer, protectedPrefix = 0): Buffer {
  const b = Buffer.from(input);
  switch (int(rng, 5)) {
    case 0: {
      for (let k = 1 + int(rng, 6); k > 0; k--) {
        const at = protectedPrefix + int(rng, Math.max(1, b.length - protectedPrefix));
        if (at < b.length) b[at] = int(rng, 256);
      }
      return b;
    }
    case 1:
      return b.subarray(0, int(rng, b.length));
    case 2: {
      const at = int(rng, b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from(pick(rng, ODD_TOKENS)), b.subarray(at)]);
    }
    case 3: {
      const at = int(rng, b.length);
      const len = int(rng, Math.min(4096, b.length - at));
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
    default: {
      // Overwrite a run of bytes with one value (zeros or 0xff are classic header breakers).
      const at = protectedPrefix + int(rng, Math.max(1, b.length - protectedPrefix));
      b.fill(pick(rng, [0, 0xff, 0x7f]), at, Math.min(b.length, at + 1 + int(rng, 16)));
      return b;
    }
  }
}

/** Replaces one field of a valid request object with an odd value. */
function mutateStructure(rng: Rng, request: Record<string, unknown>): Record<string, unknown> {
  const r = structuredClone(request) as { inputs: Record<string, unknown>[]; outputs?: unknown; parameters?: unknown; id?: unknown };
  const input = r.inputs[0]!;
  const value = pick(rng, ODD_VALUES);
  switch (int(rng, 9)) {
    case 0:
      input['shape'] = value;
      break;
    case 1:
      input['datatype'] = value;
      break;
    case 2:
      input['name'] = value;
      break;
    case 3:
      input['data'] = value;
      break;
    case 4:
      input['parameters'] = value === null ? { binary_data_size: 12 } : value;
      break;
    case 5:
      r.outputs = value;
      break;
    case 6:
      r.parameters = value;
      break;
    case 7:
      r.id = value;
      break;
    default: {
      const data = input['data'] as unknown[];
      data[int(rng, data.length)] = value;
    }
  }
  return r;
}

describe('fuzzing requests (seeded)', () => {
  let s: RunningServer;
  let images: Buffer[];
  let validJson: Record<string, unknown>;
  let validBinary: { body: Buffer; headers: Record<string, string> };

  beforeAll(async () => {
    s = await startTestServer({ maxInputPixels: 1_000_000, maxBodyBytes: 2_000_000, maxJsonBodyBytes: 1_000_000, requestTimeoutMs: 20_000 });
    const pixels = patternPixels(W, H);
    const raw = () => sharp(Buffer.from(pixels), { raw: { width: W, height: H, channels: 3 } });
    images = [await pngOf(pixels, W, H), await raw().jpeg().toBuffer(), await raw().webp().toBuffer(), await raw().tiff().toBuffer()];
    const data = Array.from({ length: 3 * H * W }, (_, i) => (i % 17) / 16);
    validJson = { id: 'fuzz', inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data }], outputs: [{ name: 'score' }] };
    validBinary = binaryInferBody(Float32Array.from(data), [1, 3, H, W]);
  });
  afterAll(() => s.close());

  interface Case {
    readonly kind: string;
    readonly path: string;
    readonly headers: Record<string, string>;
    readonly body: Buffer;
  }

  function makeCase(rng: Rng, i: number): Case {
    const which = i % 3;
    if (which === 0) {
      const structural = rng() < 0.5;
      const body = structural ? Buffer.from(JSON.stringify(mutateStructure(rng, validJson))) : mutateBytes(rng, Buffer.from(JSON.stringify(validJson)));
      return { kind: structural ? 'json-structure' : 'json-bytes', path: '/v2/models/anomaly/infer', headers: { 'Content-Type': 'application/json' }, body };
    }
    if (which === 1) {
      const headerLength = Number(validBinary.headers['Inference-Header-Content-Length']);
      const headers = { ...validBinary.headers };
      let body = validBinary.body;
      const how = int(rng, 4);
      if (how === 0)
        headers['Inference-Header-Content-Length'] = String(
          pick(rng, [0, -1, 1, headerLength - 1, headerLength + 1, body.length, body.length + 1, 2 ** 53, 'abc', '1e3', ' ']),
        );
      else if (how === 1) body = mutateBytes(rng, body.subarray(0, headerLength));
      else if (how === 2) body = Buffer.concat([mutateBytes(rng, body.subarray(0, headerLength)), body.subarray(headerLength)]);
      else body = mutateBytes(rng, body, headerLength);
      if (how === 1 || how === 2) headers['Inference-Header-Content-Length'] = String(Math.min(body.length, headerLength));
      return { kind: `binary-${how}`, path: '/v2/models/anomaly/infer', headers, body };
    }
    const index = int(rng, images.length);
    const image = images[index]!;
    // Keep the magic number intact half of the time, so the decoder itself is exercised.
    const body = mutateBytes(rng, image, rng() < 0.5 ? 12 : 0);
    const type = pick(rng, ['image/png', 'image/jpeg', 'image/webp', 'image/tiff', 'application/octet-stream']);
    return { kind: `image-${['png', 'jpeg', 'webp', 'tiff'][index]}`, path: '/predict', headers: { 'Content-Type': type }, body };
  }

  it('answers 300 mutated requests with 200 or a 4xx JSON error, never a 5xx, a reset or a hang, in bounded memory', async () => {
    const rng = rngOf(SEED);
    const counts: Record<string, number> = {};
    let rssAfterWarmup = 0;
    for (let i = 0; i < 300; i++) {
      const c = makeCase(rng, i);
      const label = `case ${i} (${c.kind}, seed ${SEED})`;
      let res: Response;
      try {
        res = await fetch(`${s.url}${c.path}`, { method: 'POST', headers: c.headers, body: c.body, signal: AbortSignal.timeout(PER_REQUEST_MS) });
      } catch (e) {
        throw new Error(`${label}: no answer: ${(e as Error).message}`);
      }
      const text = await res.text();
      counts[String(res.status)] = (counts[String(res.status)] ?? 0) + 1;
      expect(res.status === 200 || (res.status >= 400 && res.status < 500), `${label}: ${res.status} ${text.slice(0, 200)}`).toBe(true);
      if (res.status !== 200) expect(typeof (JSON.parse(text) as { error?: unknown }).error, label).toBe('string');
      if (i === 30) rssAfterWarmup = process.memoryUsage.rss();
    }
    // Every path was taken: some mutations pass, and several distinct 4xx classes were produced.
    expect(Object.keys(counts).length, JSON.stringify(counts)).toBeGreaterThanOrEqual(3);
    expect(process.memoryUsage.rss() - rssAfterWarmup).toBeLessThan(150 * 2 ** 20);
    const good = await fetch(`${s.url}/predict`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: images[0]! });
    expect(good.status).toBe(200);
    await good.arrayBuffer();
  });
});
