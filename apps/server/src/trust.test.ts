/**
 * Trust: the loopback default, the API key on every route but health, the Host allowlist, CORS off
 * by default and for one origin when asked, and the command-line flags that set them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from './cli-args.js';
import { createServer } from './server.js';
import { errorMessage, startTestServer } from './testing/harness.js';
import { anomalyTestModel } from './testing/test-models.js';

const KEY = 'k3y-for-tests-0123';
const tmp = mkdtempSync(join(tmpdir(), 'unias-server-trust-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A GET with an arbitrary Host header (fetch does not let a caller set it). */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('trust', () => {
  it('listens on 127.0.0.1 by default', async () => {
    const server = createServer({ models: [{ bytes: anomalyTestModel({ height: 8, width: 8 }), name: 'm' }], logLevel: 'silent', threads: 1 });
    try {
      const info = await server.listen(0);
      expect(info.host).toBe('127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it('with an API key: 401 without it or with a wrong one on every route but health; Bearer and X-API-Key both work', async () => {
    const s = await startTestServer({ apiKey: KEY });
    try {
      for (const path of ['/', '/metrics', '/v2', '/v2/models/anomaly', '/v2/models/anomaly/config', '/v2/models/anomaly/ready']) {
        const none = await fetch(`${s.url}${path}`);
        expect(none.status, path).toBe(401);
        expect(none.headers.get('www-authenticate'), path).toBe('Bearer');
        expect(await errorMessage(none), path).toMatch(/an API key is required/);
        const wrong = await fetch(`${s.url}${path}`, { headers: { Authorization: 'Bearer not-the-key-at-all' } });
        expect(wrong.status, path).toBe(401);
        expect(await errorMessage(wrong), path).toMatch(/the API key is not valid/);
        const bearer = await fetch(`${s.url}${path}`, { headers: { Authorization: `Bearer ${KEY}` } });
        expect(bearer.status, path).toBe(200);
        await bearer.arrayBuffer();
        const header = await fetch(`${s.url}${path}`, { headers: { 'X-API-Key': KEY } });
        expect(header.status, path).toBe(200);
        await header.arrayBuffer();
      }
      const infer = await fetch(`${s.url}/v2/models/anomaly/infer`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(infer.status).toBe(401);
      const predict = await fetch(`${s.url}/predict`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: Buffer.from([1]) });
      expect(predict.status).toBe(401);
      for (const path of ['/v2/health/live', '/v2/health/ready']) expect((await fetch(`${s.url}${path}`)).status, path).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('refuses Host headers outside --allowed-host (DNS rebinding), except on the health probes', async () => {
    const s = await startTestServer({ allowedHosts: ['localhost', 'models.internal:8080'] });
    try {
      const { port } = new URL(s.url);
      expect((await getWithHost(s.url, '/v2', `localhost:${port}`)).status).toBe(200);
      expect((await getWithHost(s.url, '/v2', 'MODELS.internal:8080')).status).toBe(200);
      const evil = await getWithHost(s.url, '/v2', 'attacker.example');
      expect(evil.status).toBe(403);
      expect(JSON.parse(evil.body)).toEqual({ error: "Host 'attacker.example' is not allowed here (allowed-host)" });
      expect((await getWithHost(s.url, '/v2', 'models.internal:9999')).status).toBe(403);
      expect((await getWithHost(s.url, '/v2/health/ready', 'attacker.example')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("sends no CORS headers by default; with --cors ORIGIN answers that origin's preflight and only that origin", async () => {
    const origin = 'https://app.example.com';
    const plain = await startTestServer();
    try {
      const res = await fetch(`${plain.url}/v2`, { headers: { Origin: origin } });
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const preflight = await fetch(`${plain.url}/v2/models/anomaly/infer`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
      });
      expect(preflight.status).toBe(405);
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await plain.close();
    }
    const s = await startTestServer({ corsOrigin: origin, apiKey: KEY });
    try {
      const preflight = await fetch(`${s.url}/v2/models/anomaly/infer`, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type, authorization' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const res = await fetch(`${s.url}/v2`, { headers: { Origin: origin, Authorization: `Bearer ${KEY}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('vary')).toBe('Origin');
      const other = await fetch(`${s.url}/v2`, { headers: { Origin: 'https://evil.example', Authorization: `Bearer ${KEY}` } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const otherPreflight = await fetch(`${s.url}/v2`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
      });
      expect(otherPreflight.headers.get('access-control-allow-origin')).toBeNull();
      await otherPreflight.arrayBuffer();
    } finally {
      await s.close();
    }
  });

  it('parses --api-key / --api-key-file, --allowed-host, --cors and the new limits', () => {
    const keyFile = join(tmp, 'key');
    writeFileSync(keyFile, `${KEY}\n`);
    const cmd = parseServeArgs([
      '--model',
      'm.onnx',
      '--api-key-file',
      keyFile,
      '--allowed-host',
      'a.local',
      '--allowed-host',
      'b.local:80',
      '--cors',
      'https://x.example',
      '--max-json-body-bytes',
      '1000',
      '--max-connections',
      '9',
      '--headers-timeout-ms',
      '700',
      '--run-timeout-ms',
      '900',
    ]);
    expect(cmd.help).toBe(false);
    if (cmd.help) return;
    expect(cmd.options).toMatchObject({
      apiKey: KEY,
      allowedHosts: ['a.local', 'b.local:80'],
      corsOrigin: 'https://x.example',
      maxJsonBodyBytes: 1000,
      maxConnections: 9,
      headersTimeoutMs: 700,
      runTimeoutMs: 900,
    });
    expect(() => parseServeArgs(['--model', 'm.onnx', '--api-key', 'short'])).toThrow(/at least 8 characters/);
    expect(() => parseServeArgs(['--model', 'm.onnx', '--api-key-file', join(tmp, 'missing')])).toThrow(/--api-key-file .*missing/);
    expect(() => parseServeArgs(['--model', 'm.onnx', '--api-key', KEY, '--api-key-file', keyFile])).toThrow(/not both/);
    expect(() => createServer({ models: ['m.onnx'], corsOrigin: 'not an origin' })).toThrow(/CORS origin must look like/);
  });
});
