/**
 * Production behaviour: admission (429), readiness while loading (503), deadlines (408 / 504),
 * graceful close, structured logs. Slow paths are made deterministic with the `fixed` batch wait
 * (a request sits in the queue for as long as the test says), not by timing measurements.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { createServer } from './server.js';
import { errorMessage, postJson, startTestServer, TEST_SIZE, untilInflight } from './testing/harness.js';
import { anomalyTestModel } from './testing/test-models.js';

const { height: H, width: W } = TEST_SIZE;
const tensor = { name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: new Array(3 * H * W).fill(0.25) };
const infer = (url: string) => postJson(`${url}/v2/models/anomaly/infer`, { inputs: [tensor], outputs: [{ name: 'score' }] });

const tmp = mkdtempSync(join(tmpdir(), 'unias-server-prod-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('production behaviour', () => {
  it('answers 429 with Retry-After past max-concurrent-requests, then serves the admitted ones', async () => {
    const s = await startTestServer({ maxConcurrentRequests: 2, batchWaitPolicy: 'fixed', maxBatchWaitMs: 700, retryAfterSeconds: 3 });
    try {
      const admitted = [infer(s.url), infer(s.url)];
      await untilInflight(s.url, 2); // both are now waiting in the batch window
      const rejected = await infer(s.url);
      expect(rejected.status).toBe(429);
      expect(rejected.headers.get('retry-after')).toBe('3');
      expect(await errorMessage(rejected)).toMatch(/too many requests in progress \(2 of max-concurrent-requests 2\)/);
      for (const r of await Promise.all(admitted)) expect(r.status).toBe(200);
      expect((await infer(s.url)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('answers 504 when inference misses the deadline and drops the request from the queue', async () => {
    const s = await startTestServer({ requestTimeoutMs: 300, batchWaitPolicy: 'fixed', maxBatchWaitMs: 5_000 });
    try {
      const res = await infer(s.url);
      expect(res.status).toBe(504);
      expect(await errorMessage(res)).toMatch(/inference did not finish within 300 ms/);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/unias_queue_depth\{model="anomaly"\} 0/);
      expect(metrics).toMatch(/unias_inflight_requests 0/);
    } finally {
      await s.close();
    }
  });

  it('answers 408 when the body does not arrive in time', async () => {
    const s = await startTestServer({ requestTimeoutMs: 300 });
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
        let data = '';
        socket.on('data', (d) => (data += d.toString()));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
        socket.write('POST /v2/models/anomaly/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":');
      });
      expect(reply).toMatch(/^HTTP\/1\.1 408/);
      expect(reply).toMatch(/"error":"the request body did not arrive within 300 ms/);
      expect(reply).toMatch(/Connection: close/i);
      expect((await infer(s.url)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('is live but not ready (503 + Retry-After) while models load', async () => {
    // A FIFO blocks the model read until the test writes the model into it.
    const fifo = join(tmp, 'slow.onnx');
    execFileSync('mkfifo', [fifo]);
    const server = createServer({ models: [fifo], logLevel: 'silent', threads: 1 });
    const listening = server.listen(0);
    while (server.url === null) await new Promise((r) => setTimeout(r, 10));
    const url = server.url;
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    const ready = await fetch(`${url}/v2/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('1');
    const early = await postJson(`${url}/v2/models/slow/infer`, { inputs: [tensor] });
    expect(early.status).toBe(503);
    expect(await errorMessage(early)).toMatch(/not ready: the models are still loading/);
    writeFileSync(fifo, anomalyTestModel(TEST_SIZE));
    await listening;
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    expect((await postJson(`${url}/v2/models/slow/infer`, { inputs: [tensor] })).status).toBe(200);
    await server.close();
  });

  it('close(): finishes in-flight requests, then refuses connections', async () => {
    const s = await startTestServer({ batchWaitPolicy: 'fixed', maxBatchWaitMs: 500 });
    const inflight = infer(s.url);
    await untilInflight(s.url, 1);
    const closing = s.close();
    expect(s.server.state).toBe('draining');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    await closing;
    expect(s.server.state).toBe('closed');
    await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
  });

  it('fails listen() with the file name when a model cannot be loaded', async () => {
    const bad = join(tmp, 'broken.onnx');
    writeFileSync(bad, 'not an onnx model');
    const server = createServer({ models: [bad], logLevel: 'silent' });
    await expect(server.listen(0)).rejects.toThrow(/cannot load model 'broken' from .*broken\.onnx/);
    expect(server.state).toBe('closed');
    expect(() => createServer({ models: [] })).toThrow(/at least one model/);
    expect(() => createServer({ models: ['a/x.onnx', 'b/x.onnx'] })).toThrow(/two models are named 'x'/);
  });

  it('writes one JSON log line per request with route, status and latency', async () => {
    const lines: string[] = [];
    const s = await startTestServer({ logger: createLogger({ level: 'info', write: (l) => lines.push(l) }) });
    try {
      await (await infer(s.url)).arrayBuffer();
      await (await fetch(`${s.url}/v2/models/ghost`)).arrayBuffer();
    } finally {
      await s.close();
    }
    for (const l of lines) expect(l.endsWith('\n')).toBe(true);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = records.filter((r) => r['msg'] === 'request');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ level: 'info', method: 'POST', route: '/v2/models/{name}/infer', status: 200 });
    expect(typeof requests[0]!['ms']).toBe('number');
    expect(requests[1]).toMatchObject({ route: '/v2/models/{name}', status: 404, error: expect.stringMatching(/unknown model 'ghost'/) });
    expect(records.map((r) => r['msg'])).toEqual(expect.arrayContaining(['model loaded', 'ready', 'shutting down', 'stopped']));
    const debugOnly: string[] = [];
    const quiet = createLogger({ level: 'warn', write: (l) => debugOnly.push(l) });
    quiet.info('hidden');
    quiet.warn('shown');
    expect(debugOnly).toHaveLength(1);
  });
});
