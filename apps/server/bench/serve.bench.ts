/**
 * Load on loopback: throughput and p50/p99 latency of /v2/models/{name}/infer (JSON and binary
 * tensors) and /predict at concurrency 1, 8 and 32, and the server's overhead over a bare
 * `session.run` of the same batch-1 input, measured side by side in the same bench run.
 *
 * The server runs as `unias-serve` in a child process (its own event loop, as in production); the
 * load generator and the bare session runs are in this process, never at the same time as each other.
 * Bounded: a fixed number of requests per cell and a time cap; traffic only to 127.0.0.1.
 * Writes JSON to stdout and to <repo>/bench-results/serve.json; progress goes to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { writeFileAtomic } from '@unias/graph';
import { percentile, repoRoot, round, startServerProcess } from './bench-support.js';
import { sessionOptionsFor } from '../src/index.js';
import { anomalyTestModel, convCostModel, convCostModelFlops } from '../src/testing/test-models.js';

const H = 224;
const W = 224;
const CONCURRENCIES = [1, 8, 32] as const;
const REQUESTS: Record<number, number> = { 1: 40, 8: 96, 32: 192 };
const WARMUP = 8;
const CELL_SECONDS_CAP = 30;
const BARE_RUNS = 40;
const PAIRS = 40;
const PAIRS_MEDIUM = 20;

const log = (msg: string): void => void process.stderr.write(`[serve.bench] ${msg}\n`);

interface Stats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

function statsOf(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 3),
  };
}

interface RequestSpec {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Status code, or the error code when the connection failed (counted as an error, not retried). */
function send(agent: Agent, port: number, spec: RequestSpec): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: spec.path, agent, headers: { ...spec.headers, 'Content-Length': spec.body.length } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(spec.body);
  });
}

async function getText(port: number, path: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.text();
}

interface ServerTotals {
  readonly batchSamples: number;
  readonly batches: number;
  readonly runSeconds: number;
}

/** Totals from the server's metrics: samples and runs (mean batch size), time inside session.run. */
async function serverTotals(port: number): Promise<ServerTotals> {
  const text = await getText(port, '/metrics');
  const value = (name: string): number => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    batchSamples: value('unias_batch_size_sum'),
    batches: value('unias_batch_size_count'),
    runSeconds: value('unias_inference_duration_seconds_sum'),
  };
}

interface Cell extends Stats {
  readonly concurrency: number;
  readonly seconds: number;
  readonly throughputRps: number;
  readonly errors: Record<string, number>;
  readonly meanBatchSize: number;
  /** Mean time of one onnxruntime run inside the server (from its metrics). */
  readonly serverRunMeanMs: number;
}

async function load(port: number, spec: RequestSpec, concurrency: number, total: number): Promise<Cell> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    for (let i = 0; i < WARMUP; i++) await send(agent, port, spec);
    const before = await serverTotals(port);
    const latencies: number[] = [];
    let issued = 0;
    const errors: Record<string, number> = {};
    const started = performance.now();
    const deadline = started + CELL_SECONDS_CAP * 1000;
    const worker = async (): Promise<void> => {
      while (issued < total && performance.now() < deadline) {
        issued++;
        const t0 = performance.now();
        const status = await send(agent, port, spec);
        latencies.push(performance.now() - t0);
        if (status !== 200) errors[String(status)] = (errors[String(status)] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    const after = await serverTotals(port);
    return {
      concurrency,
      ...statsOf(latencies),
      seconds: round(seconds, 3),
      throughputRps: round(latencies.length / seconds, 1),
      errors,
      meanBatchSize: round((after.batchSamples - before.batchSamples) / Math.max(1, after.batches - before.batches), 2),
      serverRunMeanMs: round((1000 * (after.runSeconds - before.runSeconds)) / Math.max(1, after.batches - before.batches), 3),
    };
  } finally {
    agent.destroy();
  }
}

async function bareRuns(session: ort.InferenceSession, image: Float32Array, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await session.run({ image: new ort.Tensor('float32', image, [1, 3, H, W]) });
    out.push(performance.now() - t0);
  }
  return out;
}

/** Bare run vs server request, alternating; the overhead is the median of the pairwise differences. */
async function pairedOverhead(
  session: ort.InferenceSession,
  image: Float32Array,
  port: number,
  spec: RequestSpec,
  pairs: number,
): Promise<Record<string, unknown>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < WARMUP; i++) await send(agent, port, spec);
    const before = await serverTotals(port);
    const bare: number[] = [];
    const server: number[] = [];
    const diffs: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const timeServer = async (): Promise<number> => {
        const t0 = performance.now();
        const status = await send(agent, port, spec);
        if (status !== 200) throw new Error(`${spec.path} answered ${status}`);
        return performance.now() - t0;
      };
      const timeBare = async (): Promise<number> => (await bareRuns(session, image, 1))[0]!;
      let b: number;
      let sv: number;
      if (i % 2 === 0) {
        b = await timeBare();
        sv = await timeServer();
      } else {
        sv = await timeServer();
        b = await timeBare();
      }
      bare.push(b);
      server.push(sv);
      diffs.push(sv - b);
    }
    const after = await serverTotals(port);
    const bareStats = statsOf(bare);
    const medianDiff = statsOf(diffs).p50Ms;
    return {
      pairs,
      bareP50Ms: bareStats.p50Ms,
      serverP50Ms: statsOf(server).p50Ms,
      serverRunMeanMs: round((1000 * (after.runSeconds - before.runSeconds)) / Math.max(1, after.batches - before.batches), 3),
      overheadMs: medianDiff,
      overheadPct: round((100 * medianDiff) / bareStats.p50Ms, 1),
    };
  } finally {
    agent.destroy();
  }
}

function testImage(): Float32Array {
  const x = new Float32Array(3 * H * W);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

interface BenchPlan {
  /** Throughput cells at concurrency 8 and 32 as well as 1. */
  readonly cells: boolean;
  /** Interleaved pairs per endpoint for the overhead. */
  readonly pairs: number;
}

async function benchModel(name: string, bytes: Uint8Array, plan: BenchPlan): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'unias-serve-bench-'));
  const modelPath = join(dir, `${name}.onnx`);
  writeFileSync(modelPath, bytes);
  const server = await startServerProcess(modelPath);
  const port = server.port;
  const session = await ort.InferenceSession.create(bytes, sessionOptionsFor());
  try {
    const image = testImage();
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: Array.from(image) }] }));
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', parameters: { binary_data_size: image.byteLength } }],
        parameters: { binary_data_output: true },
      }),
    );
    const binary = Buffer.concat([header, Buffer.from(image.buffer)]);
    // A camera-like upload: a smooth 512x512 scene (gradients, a disc, mild noise) as JPEG, which
    // /predict decodes and resizes to 224.
    const rgb = Buffer.alloc(512 * 512 * 3);
    let noise = 7;
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        noise = (Math.imul(noise, 1103515245) + 12345) >>> 0;
        const disc = (x - 300) ** 2 + (y - 220) ** 2 < 90 ** 2 ? 60 : 0;
        const p = (y * 512 + x) * 3;
        rgb[p] = Math.min(255, 80 + x / 4 + disc + (noise & 7));
        rgb[p + 1] = Math.min(255, 70 + y / 5 + ((noise >> 3) & 7));
        rgb[p + 2] = Math.min(255, 120 - disc / 2 + ((noise >> 6) & 7));
      }
    }
    const jpeg = await sharp(rgb, { raw: { width: 512, height: 512, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const specs: Record<string, RequestSpec> = {
      'infer-json': { path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body: json },
      'infer-binary': {
        path: `/v2/models/${name}/infer`,
        headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) },
        body: binary,
      },
      predict: { path: `/predict?model=${name}`, headers: { 'Content-Type': 'image/jpeg' }, body: jpeg },
    };

    // Overhead at concurrency 1, side by side: a bare session.run and a server request alternate
    // (which goes first swaps each pair), so the machine's other load hits both alike.
    await bareRuns(session, image, 5);
    const overhead: Record<string, unknown> = {};
    const c1: Record<string, Cell> = {};
    for (const [endpoint, spec] of Object.entries(specs)) {
      log(`${name}: ${endpoint}, ${plan.pairs} interleaved pairs against bare session.run`);
      overhead[endpoint] = await pairedOverhead(session, image, port, spec, plan.pairs);
      log(`${name}: ${endpoint} at concurrency 1`);
      c1[endpoint] = await load(port, spec, 1, REQUESTS[1]!);
    }
    const bareStats = statsOf(await bareRuns(session, image, BARE_RUNS));
    const endpoints: Record<string, Cell[]> = {};
    for (const endpoint of Object.keys(specs)) endpoints[endpoint] = [c1[endpoint]!];
    if (plan.cells) {
      for (const [endpoint, spec] of Object.entries(specs)) {
        for (const c of CONCURRENCIES.filter((c) => c > 1)) {
          log(`${name}: ${endpoint} at concurrency ${c}`);
          endpoints[endpoint]!.push(await load(port, spec, c, REQUESTS[c]!));
        }
      }
    }
    return { bareSessionRun: bareStats, overheadAtConcurrency1: overhead, endpoints };
  } finally {
    await session.release();
    const code = await server.stop();
    if (code !== 0) log(`unias-serve exited with ${code}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const conv = { height: H, width: W, channels: 32, layers: 3 };
  const medium = { height: H, width: W, channels: 64, layers: 4 };
  const result = {
    bench: 'serve',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      onnxruntime: ort.env.versions.common,
      // Other work on the machine skews every number here: the 1-minute load average before and after.
      loadAverageBefore: round(loadavg()[0]!, 2),
      loadAverageAfter: 0,
    },
    settings: {
      requests: REQUESTS,
      warmupPerCell: WARMUP,
      cellSecondsCap: CELL_SECONDS_CAP,
      bareRuns: BARE_RUNS,
      overheadPairs: { conv: PAIRS, medium: PAIRS_MEDIUM, tiny: PAIRS },
      overhead: 'median over pairs of (server request latency - bare session.run latency), bare run and request alternating; % of the bare p50',
      server: 'unias-serve in a child process, default options (max batch 8, adaptive wait 5 ms, onnxruntime threads: all cores, no spinning), log level warn',
      client: 'node:http keep-alive agent in the bench process, body built once, responses read but not parsed; connection errors counted, not retried',
      bare: 'session.run in the bench process with the same session options and the same batch-1 input',
      predictUpload: 'smooth synthetic 512x512 JPEG (quality 90), resized to 224x224 by the server',
    },
    models: {
      conv: {
        description: 'a 224x224 stack of 3x3 convolutions (32 channels, 3 hidden layers): lighter than the UniAS backbone alone (3.0 GFLOP)',
        gflop: round(convCostModelFlops(conv) / 1e9, 2),
        ...(await benchModel('conv', convCostModel(conv), { cells: true, pairs: PAIRS })),
      },
      medium: {
        description: 'the same stack with 64 channels and 4 hidden layers: about the cost of a small CPU preset (the paper preset is ~84 GFLOP)',
        gflop: round(convCostModelFlops(medium) / 1e9, 2),
        ...(await benchModel('medium', convCostModel(medium), { cells: false, pairs: PAIRS_MEDIUM })),
      },
      tiny: {
        description: 'mean |x - 0.5| over channels at 224x224: almost free, so its numbers are the serving cost itself',
        ...(await benchModel('tiny', anomalyTestModel({ height: H, width: W }), { cells: false, pairs: PAIRS })),
      },
    },
    seconds: 0,
  };
  result.seconds = round((performance.now() - started) / 1000, 1);
  result.machine.loadAverageAfter = round(loadavg()[0]!, 2);
  const text = JSON.stringify(result, null, 2);
  process.stdout.write(text + '\n');
  await writeFileAtomic(join(repoRoot, 'bench-results', 'serve.json'), text + '\n');
  log(`done in ${result.seconds} s; written to bench-results/serve.json`);
}

main().catch((e: unknown) => {
  process.stderr.write(`serve.bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
