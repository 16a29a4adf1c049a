/**
 * Admission and limits against slow and large clients: slots are taken when the body is in, slow
 * headers are cut by the headers timeout while health stays green, max-connections holds, JSON has
 * its own body limit, and a 30 MiB JSON body is parsed off the event loop.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { binaryInferBody, errorMessage, postJson, startTestServer, TEST_SIZE } from './testing/harness.js';
import { anomalyTestModel } from './testing/test-models.js';

const { height: H, width: W } = TEST_SIZE;
const goodJson = () =>
  JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: new Array(3 * H * W).fill(0.25) }], outputs: [{ name: 'score' }] });

function open(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Everything the server sends on `socket` until it closes it. */
function replyOf(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
}

/** Probes /v2/health/live every `everyMs` until `stop` resolves; returns each probe's status and latency. */
async function probeWhile(url: string, stop: Promise<unknown>, everyMs: number): Promise<{ status: number; ms: number }[]> {
  const results: { status: number; ms: number }[] = [];
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    const t0 = performance.now();
    const res = await fetch(`${url}/v2/health/live`);
    await res.arrayBuffer();
    results.push({ status: res.status, ms: performance.now() - t0 });
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return results;
}

describe('admission and limits', () => {
  it('takes a concurrency slot when the body has arrived: a slow upload does not hold one', async () => {
    const s = await startTestServer({ maxConcurrentRequests: 1 });
    try {
      const slow = await open(s.url);
      const slowReply = new Promise<string>((resolve) => slow.once('data', (d) => resolve(d.toString())));
      const body = goodJson();
      slow.write(
        `POST /v2/models/anomaly/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`,
      );
      await new Promise((r) => setTimeout(r, 100));
      const res = await postJson(`${s.url}/v2/models/anomaly/infer`, body);
      expect(res.status).toBe(200);
      slow.write(body.slice(100)); // (not end(): a half-closed connection aborts its request)
      expect(await slowReply).toMatch(/^HTTP\/1\.1 200/);
      slow.destroy();
    } finally {
      await s.close();
    }
  });

  it('cuts slow-loris headers with 408 after headers-timeout-ms while health stays green', async () => {
    const s = await startTestServer({ headersTimeoutMs: 400, maxConnections: 64 });
    try {
      const sockets = await Promise.all(Array.from({ length: 24 }, () => open(s.url)));
      const replies = sockets.map(replyOf);
      for (const sock of sockets) sock.write('GET /v2 HTTP/1.1\r\nHost: x\r\n');
      // Trickle one header line every 50 ms, never ending the headers.
      const trickle = setInterval(() => {
        for (const sock of sockets) if (sock.writable) sock.write('X-Slow: 1\r\n');
      }, 50);
      const all = Promise.all(replies);
      const probes = await probeWhile(s.url, all, 25);
      clearInterval(trickle);
      for (const reply of await all) {
        expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
        expect(reply).toMatch(/X-Content-Type-Options: nosniff/);
        expect(reply).toMatch(/"error":"the request headers or body did not arrive in time/);
      }
      expect(probes.length).toBeGreaterThan(5);
      expect(probes.every((p) => p.status === 200)).toBe(true);
      expect((await postJson(`${s.url}/v2/models/anomaly/infer`, goodJson())).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('holds max-connections, and serves again once connections close', async () => {
    const s = await startTestServer({ maxConnections: 4 });
    try {
      const idle = await Promise.all(Array.from({ length: 4 }, () => open(s.url)));
      await new Promise((r) => setTimeout(r, 50));
      await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
      for (const sock of idle) sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('maps HTTP parse errors: 431 for oversized headers, 413 for oversized chunk extensions, 400 for a bad Content-Length', async () => {
    const s = await startTestServer();
    try {
      const cases: [string, RegExp][] = [
        [`GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431 .*"error":"the request headers are larger/s],
        [`POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20_000)}\r\n`, /^HTTP\/1\.1 413 .*chunk extensions/s],
        ['POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n', /^HTTP\/1\.1 400 .*invalid Content-Length/s],
      ];
      for (const [raw, expected] of cases) {
        const sock = await open(s.url);
        const reply = replyOf(sock);
        sock.write(raw);
        const text = await reply;
        expect(text, raw.slice(0, 60)).toMatch(expected);
        expect(text).toMatch(/X-Content-Type-Options: nosniff/);
      }
    } finally {
      await s.close();
    }
  });

  it('gives JSON its own, smaller body limit; the same bytes as binary tensors pass', async () => {
    const s = await startTestServer({ maxJsonBodyBytes: 10_000, maxBodyBytes: 100_000 });
    try {
      const json = await postJson(`${s.url}/v2/models/anomaly/infer`, goodJson());
      expect(json.status).toBe(413);
      expect(await errorMessage(json)).toMatch(/the limit is 10000 bytes \(max-json-body-bytes/);
      const bin = binaryInferBody(new Float32Array(3 * H * W).fill(0.25), [1, 3, H, W]);
      expect(bin.body.length).toBeGreaterThan(10_000);
      const res = await fetch(`${s.url}/v2/models/anomaly/infer`, { method: 'POST', headers: bin.headers, body: bin.body });
      expect(res.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('parses a 30 MiB JSON body off the event loop: health answers within 100 ms meanwhile, and the result is exact', async () => {
    const size = 512;
    const s = await startTestServer({ models: [{ bytes: anomalyTestModel({ height: size, width: size }), name: 'big' }], maxJsonBodyBytes: 40 * 2 ** 20 });
    try {
      const n = 2 * 3 * size * size;
      // Long spellings of 0.125 (exactly representable): 30 MiB of body in fewer numbers keeps the test short.
      const v = '0.1250000000000000001';
      const body = Buffer.from(
        `{"inputs":[{"name":"image","shape":[2,3,${size},${size}],"datatype":"FP32","data":[${`${v},`.repeat(n - 1)}${v}]}],"outputs":[{"name":"score"}]}`,
      );
      expect(body.length).toBeGreaterThan(30 * 2 ** 20);
      // What parsing this body on the event loop would stall it for, on this machine right now:
      // timed on an eighth of the numbers (parse time is linear in them), times eight.
      const eighth = `[${`${v},`.repeat(n / 8 - 1)}${v}]`;
      const t0 = performance.now();
      JSON.parse(eighth);
      const inlineParseMs = 8 * (performance.now() - t0);
      const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const { port } = new URL(s.url);
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/v2/models/big/infer',
            headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        // Written in 1 MiB pieces, as a client in another process would: this test shares the server's loop.
        void (async () => {
          for (let o = 0; o < body.length; o += 2 ** 20) {
            if (!req.write(body.subarray(o, o + 2 ** 20))) await new Promise((r) => req.once('drain', r));
          }
          req.end();
        })();
      });
      // The direct check: no JSON.parse on this thread (the server's) sees a string anywhere near the body's size.
      // A worker thread has its own JSON global, so this spy sees only what the event loop parses.
      let largestInlineParse = 0;
      const realParse = JSON.parse;
      const spy = vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
        largestInlineParse = Math.max(largestInlineParse, String(text).length);
        return realParse(text, reviver);
      });
      // Event-loop lag in this process (the server's loop): the longest gap between 10 ms ticks.
      let last = performance.now();
      let maxGap = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 10);
      const probes = await probeWhile(s.url, answer, 20).finally(() => {
        clearInterval(ticker);
        spy.mockRestore();
      });
      const { status, text } = await answer;
      expect(largestInlineParse).toBeLessThan(2 ** 20);
      expect(status, text.slice(0, 300)).toBe(200);
      // score = max over pixels of mean_c |x - 0.5| = 0.375 for every sample.
      const out = JSON.parse(text) as { outputs: { name: string; data: number[] }[] };
      expect(out.outputs[0]!.data).toEqual([0.375, 0.375]);
      expect(probes.length).toBeGreaterThan(3);
      expect(probes.every((p) => p.status === 200)).toBe(true);
      // 100 ms, the issue's bound; on a machine so loaded (shared 2 cores) that a bare parse of this body
      // takes over 170 ms, 60% of that parse (a parse on the event loop would hold a probe for all of it).
      // A third was too tight under CI load: one GC/scheduling stall of 282 ms against a bound of 287 ms.
      const bound = Math.max(100, 0.6 * inlineParseMs);
      const slowest = Math.max(...probes.map((p) => p.ms));
      expect(
        slowest,
        JSON.stringify({ inlineParseMs: Math.round(inlineParseMs), maxGap: Math.round(maxGap), probes: probes.map((p) => Math.round(p.ms)) }),
      ).toBeLessThan(bound);
    } finally {
      await s.close();
    }
  });
});
