/**
 * Bad input: every case gets a 4xx with a JSON error naming the problem, the server stays up (a good
 * request right after succeeds), and memory stays bounded over a loop of bad requests.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corruptAfterHeader, pngBomb, truncated } from './testing/bad-images.js';
import { errorMessage, patternPixels, pngOf, postJson, startTestServer, TEST_SIZE, type RunningServer } from './testing/harness.js';

const { height: H, width: W } = TEST_SIZE;

interface BadCase {
  readonly name: string;
  readonly status: number;
  readonly message: RegExp;
  send(url: string): Promise<Response>;
}

const predictWith =
  (body: Buffer | string, contentType: string, query = '') =>
  (url: string) =>
    fetch(`${url}/predict${query}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

const goodTensor = () => ({ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: new Array(3 * H * W).fill(0.5) });

describe('bad input', () => {
  let s: RunningServer;
  let goodPng: Buffer;
  let bigPng: Buffer;
  const cases: BadCase[] = [];

  beforeAll(async () => {
    goodPng = await pngOf(patternPixels(W, H), W, H);
    bigPng = await pngOf(new Uint8Array(1100 * 1000 * 3), 1100, 1000);
    s = await startTestServer({ maxBodyBytes: 4_000_000, maxInputPixels: 1_000_000 });
    const infer =
      (body: unknown, headers: Record<string, string> = {}) =>
      (url: string) =>
        postJson(`${url}/v2/models/anomaly/infer`, body, headers);
    cases.push(
      { name: 'truncated PNG', status: 400, message: /cannot decode the image/, send: predictWith(truncated(goodPng), 'image/png') },
      { name: 'corrupt PNG data', status: 400, message: /cannot decode the image/, send: predictWith(corruptAfterHeader(goodPng), 'image/png') },
      {
        name: 'text sent as image/png',
        status: 415,
        message: /the image is not PNG, JPEG, WebP or TIFF \(it starts with bytes 74686973/,
        send: predictWith('this is not an image', 'image/png'),
      },
      { name: 'JSON sent as image/jpeg', status: 415, message: /the image is not PNG, JPEG, WebP or TIFF/, send: predictWith('{"a":1}', 'image/jpeg') },
      {
        name: 'PNG signature, JPEG body',
        status: 400,
        message: /cannot decode the image/,
        send: predictWith(Buffer.concat([goodPng.subarray(0, 8), Buffer.from([0xff, 0xd8, 0xff, 0xe0])]), 'image/png'),
      },
      { name: '0-byte image', status: 400, message: /body is empty/, send: predictWith(Buffer.alloc(0), 'image/png') },
      {
        name: 'decompression bomb 30000x30000',
        status: 413,
        message: /30000x30000 = 900000000 pixels; the limit is 1000000/,
        send: predictWith(pngBomb(), 'image/png'),
      },
      { name: 'real image over the pixel limit', status: 413, message: /1100x1000 = 1100000 pixels/, send: predictWith(bigPng, 'image/png') },
      { name: 'body over max-body-bytes', status: 413, message: /limit is 4000000 bytes/, send: predictWith(Buffer.alloc(4_000_001), 'image/png') },
      { name: 'text/plain to /predict', status: 415, message: /content type 'text\/plain' is not accepted by \/predict/, send: predictWith('x', 'text/plain') },
      { name: 'JSON to /predict', status: 415, message: /application\/json/, send: predictWith('{}', 'application/json') },
      {
        name: 'multipart to /predict',
        status: 415,
        message: /content type 'multipart\/form-data' is not accepted by \/predict/,
        send: predictWith('--zz\r\nnonsense', 'multipart/form-data; boundary=zz'),
      },
      {
        name: 'form-urlencoded to /predict',
        status: 415,
        message: /'application\/x-www-form-urlencoded' is not accepted/,
        send: predictWith('a=1', 'application/x-www-form-urlencoded'),
      },
      {
        name: 'unknown model on /predict',
        status: 404,
        message: /unknown model 'nope'; this server has 'anomaly'/,
        send: predictWith(goodPng, 'image/png', '?model=nope'),
      },
      { name: 'malformed JSON', status: 400, message: /malformed JSON in the inference request/, send: infer('{"inputs": [{"name": "image",') },
      { name: 'large malformed JSON', status: 400, message: /malformed JSON/, send: infer('{"inputs": [' + '0.5,'.repeat(900_000)) },
      { name: 'empty infer body', status: 400, message: /request body is empty/, send: infer('') },
      {
        name: 'wrong tensor shape',
        status: 400,
        message: /shape \[1, 3, 16, 16\]; model expects \[-1, 3, 32, 32\]/,
        send: infer({ inputs: [{ ...goodTensor(), shape: [1, 3, 16, 16], data: new Array(768).fill(0) }] }),
      },
      { name: 'wrong datatype', status: 400, message: /datatype FP64; model expects FP32/, send: infer({ inputs: [{ ...goodTensor(), datatype: 'FP64' }] }) },
      {
        name: 'too few elements',
        status: 400,
        message: /3 data elements; shape \[1, 3, 32, 32\] needs 3072/,
        send: infer({ inputs: [{ ...goodTensor(), data: [1, 2, 3] }] }),
      },
      {
        name: 'non-numeric element',
        status: 400,
        message: /data\[0\] = null is not a number/,
        send: infer({ inputs: [{ ...goodTensor(), data: [null, ...new Array(3071).fill(0)] }] }),
      },
      { name: 'unknown input name', status: 400, message: /unknown input 'img'/, send: infer({ inputs: [{ ...goodTensor(), name: 'img' }] }) },
      {
        name: 'form-urlencoded to /infer',
        status: 415,
        message: /'application\/x-www-form-urlencoded' is not accepted here/,
        send: infer('{}', { 'Content-Type': 'application/x-www-form-urlencoded' }),
      },
      { name: 'text/plain to /infer', status: 415, message: /'text\/plain' is not accepted here/, send: infer('{}', { 'Content-Type': 'text/plain' }) },
      {
        name: 'no content type to /infer',
        status: 415,
        message: /'\(none\)' is not accepted here/,
        send: (url) => fetch(`${url}/v2/models/anomaly/infer`, { method: 'POST', body: new Blob(['{}']) }),
      },
      {
        name: 'JSON nested too deep',
        status: 400,
        message: /nests arrays or objects deeper than 32 levels/,
        send: infer('{"inputs":' + '['.repeat(40) + ']'.repeat(40) + '}'),
      },
      {
        name: 'batch over max-batch-size',
        status: 400,
        message: /input 'image' has batch size 9; model 'anomaly' takes at most 8 samples per request \(max_batch_size/,
        send: infer({ inputs: [{ ...goodTensor(), shape: [9, 3, H, W], data: new Array(9 * 3 * H * W).fill(0.5) }] }),
      },
      { name: 'image/png to /infer', status: 415, message: /content type 'image\/png' is not accepted/, send: infer('{}', { 'Content-Type': 'image/png' }) },
      {
        name: 'unknown model on /infer',
        status: 404,
        message: /unknown model 'ghost'/,
        send: (url) => postJson(`${url}/v2/models/ghost/infer`, { inputs: [goodTensor()] }),
      },
      { name: 'unknown model metadata', status: 404, message: /unknown model 'ghost'/, send: (url) => fetch(`${url}/v2/models/ghost`) },
      { name: 'unknown model ready', status: 404, message: /unknown model 'ghost'/, send: (url) => fetch(`${url}/v2/models/ghost/ready`) },
      { name: 'unknown version', status: 404, message: /no version '7'/, send: (url) => fetch(`${url}/v2/models/anomaly/versions/7`) },
      { name: 'GET on /infer', status: 405, message: /GET is not allowed .* use POST/, send: (url) => fetch(`${url}/v2/models/anomaly/infer`) },
      { name: 'unknown route', status: 404, message: /no route for GET \/v3/, send: (url) => fetch(`${url}/v3`) },
      { name: 'gzip-encoded infer body', status: 415, message: /Content-Encoding 'gzip' is not supported/, send: infer('{}', { 'Content-Encoding': 'gzip' }) },
      {
        name: 'bad binary header length',
        status: 400,
        message: /Inference-Header-Content-Length/,
        send: infer('{}', { 'Inference-Header-Content-Length': 'abc' }),
      },
    );
  });
  afterAll(() => s.close());

  it('answers each bad request with a 4xx and a JSON error that names the problem, and keeps serving', async () => {
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const res = await c.send(s.url);
      expect.soft(res.status, c.name).toBe(c.status);
      expect.soft(res.headers.get('content-type'), c.name).toBe('application/json');
      expect.soft(await errorMessage(res), c.name).toMatch(c.message);
      // The server is still up and answers a good request.
      const good = await predictWith(goodPng, 'image/png')(s.url);
      expect(good.status, `good request after '${c.name}'`).toBe(200);
      await good.arrayBuffer();
    }
  });

  it('answers malformed HTTP with 400 and stays up', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write('GARBAGE \x01\x02 NOT HTTP\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(reply).toMatch(/"error":"malformed HTTP request/);
    expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
  });

  it('keeps memory bounded over a loop of bad requests', async () => {
    const heavy = cases.filter((c) => /bomb|truncated|corrupt|pixel limit|max-body-bytes|large malformed JSON|wrong tensor/.test(c.name));
    expect(heavy).toHaveLength(7);
    const round = async () => {
      for (const c of heavy) await (await c.send(s.url)).arrayBuffer();
    };
    await round(); // warm up allocators and caches
    await round();
    const before = process.memoryUsage.rss();
    for (let i = 0; i < 40; i++) await round();
    const growth = process.memoryUsage.rss() - before;
    // 40 rounds x 7 bad requests: bombs declaring GBs of pixels, a 3.6 MB JSON body that is read in
    // full, a 4 MB body over the limit. Keeping just the JSON bodies would grow RSS by 144 MB; the
    // bound leaves room for allocator noise.
    expect(growth).toBeLessThan(100 * 1024 * 1024);
    expect((await predictWith(goodPng, 'image/png')(s.url)).status).toBe(200);
  });
});
