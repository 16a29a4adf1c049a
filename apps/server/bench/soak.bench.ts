/**
 * Soak: mixed valid and invalid traffic at concurrency 64 for a fixed time against `unias-serve` in
 * a child process, on loopback only. Reports requests served, answers by class (expected ones, and
 * unexpected ones: a 5xx, a dropped connection, a valid request refused or an invalid one accepted),
 * p50/p99 latency, and the server's RSS at the start and the end and every 5 s (from its /metrics).
 *
 *   pnpm bench:soak [--duration 60] [--concurrency 64]
 *
 * Writes JSON to stdout and to <repo>/bench-results/soak.json; progress goes to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { writeFileAtomic } from '@unias/graph';
import { percentile, repoRoot, round, startServerProcess } from './bench-support.js';
import { convCostModel } from '../src/testing/test-models.js';

const H = 64;
const W = 64;
const MAX_JSON_BODY = 1_000_000;
const log = (msg: string): void => void process.stderr.write(`[soak.bench] ${msg}\n`);

interface Kind {
  readonly name: string;
  /** Share of the traffic (weights are normalised). */
  readonly weight: number;
  /** The statuses a correct server gives it. */
  readonly expect: readonly number[];
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function send(agent: Agent, port: number, kind: Kind): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: kind.method, path: kind.path, agent, headers: { ...kind.headers, 'Content-Length': kind.body.length } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('client timeout (60 s)')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(kind.body);
  });
}

async function serverRss(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^process_resident_memory_bytes (\d+)/m.exec(text);
  if (!m) throw new Error('the server reports no process_resident_memory_bytes');
  return Number(m[1]);
}

async function kinds(): Promise<Kind[]> {
  const image = Float32Array.from({ length: 3 * H * W }, (_, i) => ((i * 7919) % 1000) / 1000);
  const tensor = { name: 'image', shape: [1, 3, H, W], datatype: 'FP32' };
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const header = json({ inputs: [{ ...tensor, parameters: { binary_data_size: image.byteLength } }], outputs: [{ name: 'score' }] });
  const pixels = Buffer.from(Array.from({ length: H * W * 3 }, (_, i) => (i * 31) % 256));
  const png = await sharp(pixels, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toBuffer();
  const jpeg = await sharp(pixels, { raw: { width: W, height: H, channels: 3 } })
    .jpeg()
    .toBuffer();
  const infer = '/v2/models/soak/infer';
  const jsonHeaders = { 'Content-Type': 'application/json' };
  return [
    {
      name: 'infer-json',
      weight: 20,
      expect: [200],
      method: 'POST',
      path: infer,
      headers: jsonHeaders,
      body: json({ inputs: [{ ...tensor, data: Array.from(image) }], outputs: [{ name: 'score' }] }),
    },
    {
      name: 'infer-binary',
      weight: 20,
      expect: [200],
      method: 'POST',
      path: infer,
      headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(image.buffer)]),
    },
    { name: 'predict-png', weight: 15, expect: [200], method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/png' }, body: png },
    { name: 'predict-jpeg', weight: 5, expect: [200], method: 'POST', path: '/predict', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg },
    { name: 'health', weight: 5, expect: [200], method: 'GET', path: '/v2/health/ready', headers: {}, body: Buffer.alloc(0) },
    { name: 'metadata', weight: 3, expect: [200], method: 'GET', path: '/v2/models/soak', headers: {}, body: Buffer.alloc(0) },
    {
      name: 'malformed-json',
      weight: 5,
      expect: [400],
      method: 'POST',
      path: infer,
      headers: jsonHeaders,
      body: Buffer.from('{"inputs": [{"name": "image", "data": [1, 2,'),
    },
    {
      name: 'wrong-shape',
      weight: 4,
      expect: [400],
      method: 'POST',
      path: infer,
      headers: jsonHeaders,
      body: json({ inputs: [{ ...tensor, shape: [1, 3, 8, 8], data: new Array(192).fill(0) }] }),
    },
    {
      name: 'batch-over-limit',
      weight: 3,
      expect: [400],
      method: 'POST',
      path: infer,
      headers: jsonHeaders,
      body: json({ inputs: [{ ...tensor, shape: [9, 3, H, W], data: new Array(9 * 3 * H * W).fill(0) }] }),
    },
    {
      name: 'json-too-deep',
      weight: 2,
      expect: [400],
      method: 'POST',
      path: infer,
      headers: jsonHeaders,
      body: Buffer.from(`{"inputs":${'['.repeat(200)}${']'.repeat(200)}}`),
    },
    { name: 'json-too-large', weight: 2, expect: [413], method: 'POST', path: infer, headers: jsonHeaders, body: Buffer.alloc(MAX_JSON_BODY + 1, 0x20) },
    {
      name: 'bad-image-bytes',
      weight: 4,
      expect: [400],
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'image/png' },
      body: Buffer.concat([png.subarray(0, 40), Buffer.alloc(200, 7)]),
    },
    {
      name: 'svg',
      weight: 2,
      expect: [415],
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'image/svg+xml' },
      body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'),
    },
    {
      name: 'form-type',
      weight: 3,
      expect: [415],
      method: 'POST',
      path: '/predict',
      headers: { 'Content-Type': 'multipart/form-data; boundary=x' },
      body: Buffer.from('--x--'),
    },
    { name: 'unknown-model', weight: 3, expect: [404], method: 'POST', path: '/v2/models/ghost/infer', headers: jsonHeaders, body: Buffer.from('{}') },
    { name: 'wrong-method', weight: 2, expect: [405], method: 'GET', path: infer, headers: {}, body: Buffer.alloc(0) },
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '60' }, concurrency: { type: 'string', default: '64' } } });
  const durationS = Number(values.duration);
  const concurrency = Number(values.concurrency);
  if (!(durationS > 0 && durationS <= 3600) || !Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new Error('--duration must be in (0, 3600] seconds and --concurrency an integer in [1, 1024]');
  }
  const dir = mkdtempSync(join(tmpdir(), 'unias-soak-'));
  const modelPath = join(dir, 'soak.onnx');
  writeFileSync(modelPath, convCostModel({ height: H, width: W, channels: 16, layers: 2 }));
  const server = await startServerProcess(modelPath, ['--max-json-body-bytes', String(MAX_JSON_BODY), '--threads', '1']);
  try {
    const all = await kinds();
    const totalWeight = all.reduce((a, k) => a + k.weight, 0);
    // A fixed, seeded sequence of kinds (the same traffic mix on every run).
    let seed = 0x50a4;
    const nextKind = (): Kind => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      let r = ((seed >>> 8) / 16777216) * totalWeight;
      for (const k of all) if ((r -= k.weight) < 0) return k;
      return all[all.length - 1]!;
    };
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    // Warm up (first runs, allocator), then take the starting RSS.
    for (const k of all) await send(agent, server.port, k);
    const rssStart = await serverRss(server.port);
    let rssPeak = rssStart;
    log(`warm; RSS ${round(rssStart / 2 ** 20, 1)} MiB; ${concurrency} clients for ${durationS} s`);
    const latencies: number[] = [];
    const byKind = new Map<string, Record<string, number>>();
    const unexpected: Record<string, number> = {};
    const examples: string[] = [];
    const end = performance.now() + durationS * 1000;
    let served = 0;
    const rssSamples: { s: number; MiB: number }[] = [];
    const started = performance.now();
    const sampler = setInterval(() => {
      serverRss(server.port).then(
        (rss) => {
          rssPeak = Math.max(rssPeak, rss);
          rssSamples.push({ s: Math.round((performance.now() - started) / 1000), MiB: round(rss / 2 ** 20, 1) });
        },
        () => {},
      );
      log(`${served} requests, ${Math.round((end - performance.now()) / 1000)} s left`);
    }, 5_000);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const kind = nextKind();
          const t0 = performance.now();
          const status = await send(agent, server.port, kind);
          latencies.push(performance.now() - t0);
          served++;
          const counts = byKind.get(kind.name) ?? {};
          counts[String(status)] = (counts[String(status)] ?? 0) + 1;
          byKind.set(kind.name, counts);
          if (typeof status !== 'number' || !kind.expect.includes(status)) {
            const cls = typeof status !== 'number' ? `connection ${status}` : status >= 500 ? `${status} (server error)` : `${status} on ${kind.name}`;
            unexpected[cls] = (unexpected[cls] ?? 0) + 1;
            if (examples.length < 10) examples.push(`${kind.name}: ${status}`);
          }
        }
      }),
    );
    clearInterval(sampler);
    agent.destroy();
    const rssEnd = await serverRss(server.port);
    const sorted = latencies.sort((a, b) => a - b);
    const byClass: Record<string, number> = {};
    for (const counts of byKind.values()) {
      for (const [status, n] of Object.entries(counts)) {
        const cls = /^\d+$/.test(status) ? `${status[0]}xx` : 'connection error';
        byClass[cls] = (byClass[cls] ?? 0) + n;
      }
    }
    const result = {
      bench: 'soak',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadavg: loadavg().map((v) => round(v, 2)) },
      model: `conv 16 ch x 2, ${H}x${W}, 1 onnxruntime thread`,
      durationS,
      concurrency,
      requests: served,
      requestsPerSecond: round(served / durationS, 1),
      byClass,
      unexpected: { total: Object.values(unexpected).reduce((a, b) => a + b, 0), byClass: unexpected, examples },
      byKind: Object.fromEntries(byKind),
      latencyMs: { p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1), max: round(sorted.at(-1) ?? NaN, 1) },
      rssMiB: {
        start: round(rssStart / 2 ** 20, 1),
        end: round(rssEnd / 2 ** 20, 1),
        peak: round(Math.max(rssPeak, rssEnd) / 2 ** 20, 1),
        growth: round((rssEnd - rssStart) / 2 ** 20, 1),
      },
      // Every 5 s: a leak keeps climbing, allocator high-water flattens out.
      rssSamples,
    };
    const text = JSON.stringify(result, null, 2);
    process.stdout.write(text + '\n');
    await writeFileAtomic(join(repoRoot, 'bench-results', 'soak.json'), text + '\n');
    log('written to bench-results/soak.json');
  } finally {
    const code = await server.stop();
    rmSync(dir, { recursive: true, force: true });
    if (code !== 0) log(`unias-serve exited with ${code} on SIGTERM`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
