/**
 * GFLOP/s of conv2d and matmul on every backend, side by side in one run (ratios are what
 * matter on these noisy shared machines). Writes JSON to stdout and bench-results/ops.json.
 *
 *   pnpm bench            (from the repo root)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGraph, createRng, type Graph, type Session, type TensorData } from '@unias/graph';
import { uniform } from '@unias/graph/testing';
import { conformanceBackends, type NamedBackend } from '../src/backends.js';
import { createOnnxBackend } from '@unias/backend-onnx';

interface Workload {
  name: string;
  flops: number;
  graph: Graph;
  feeds: Record<string, TensorData>;
}

function convWorkload(n: number, c: number, hw: number, k: number, co: number): Workload {
  const b = createGraph();
  const x = b.input('x', [n, c, hw, hw]);
  const w = b.input('w', [co, c, k, k]);
  const y = b.conv2d(x, w, null, { padding: (k - 1) / 2 });
  b.output('y', y);
  const rng = createRng(1);
  return {
    name: `conv2d ${n}x${c}x${hw}x${hw} k${k} -> ${co}`,
    flops: 2 * n * co * hw * hw * c * k * k,
    graph: b.build(),
    feeds: { x: uniform(rng, x.shape), w: uniform(rng, w.shape, -0.1, 0.1) },
  };
}

function matmulWorkload(batch: number, m: number, k: number, n: number): Workload {
  const b = createGraph();
  const a = b.input('a', batch > 1 ? [batch, m, k] : [m, k]);
  const bb = b.input('b', [k, n]);
  b.output('y', b.matmul(a, bb));
  const rng = createRng(2);
  return {
    name: `matmul ${batch > 1 ? `${batch}x` : ''}${m}x${k} @ ${k}x${n}`,
    flops: 2 * batch * m * k * n,
    graph: b.build(),
    feeds: { a: uniform(rng, a.shape), b: uniform(rng, bb.shape) },
  };
}

const WORKLOADS: Workload[] = [
  convWorkload(4, 128, 28, 3, 128),
  convWorkload(1, 64, 56, 3, 64),
  convWorkload(4, 256, 14, 1, 256),
  matmulWorkload(4, 196, 256, 256),
  matmulWorkload(1, 512, 512, 512),
];

/** Median seconds per run, after a warm-up, within a time budget (tfjs-cpu is ~100x slower). */
async function time(session: Session, feeds: Record<string, TensorData>, budgetS: number, maxReps: number): Promise<{ seconds: number; reps: number }> {
  await session.run(feeds);
  const times: number[] = [];
  const start = performance.now();
  while (times.length < maxReps && (times.length < 2 || (performance.now() - start) / 1000 < budgetS)) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)]!, reps: times.length };
}

async function main(): Promise<void> {
  const backends: NamedBackend[] = [
    { label: 'onnx-cpu-1thread', backend: await createOnnxBackend({ intraOpNumThreads: 1 }) },
    ...(await conformanceBackends({ ortThreads: 2 })).map((b) => (b.label === 'onnx-cpu' ? { ...b, label: 'onnx-cpu-2threads' } : b)),
  ];
  const results: Array<Record<string, unknown>> = [];
  for (const w of WORKLOADS) {
    const row: Record<string, unknown> = { workload: w.name, gflop: w.flops / 1e9 };
    const gflops: Record<string, number> = {};
    for (const { label, backend } of backends) {
      const session = await backend.prepare(w.graph);
      const slow = label === 'tfjs-cpu';
      const { seconds, reps } = await time(session, w.feeds, slow ? 4 : 2, slow ? 3 : 50);
      await session.dispose();
      gflops[label] = w.flops / seconds / 1e9;
      process.stderr.write(`${w.name.padEnd(36)} ${label.padEnd(18)} ${(w.flops / seconds / 1e9).toFixed(2).padStart(8)} GFLOP/s (${reps} runs)\n`);
    }
    row['gflop_per_s'] = gflops;
    const ort = gflops['onnx-cpu-2threads']!;
    row['ratio_ort_over'] = { 'tfjs-wasm': ort / gflops['tfjs-wasm']!, 'tfjs-cpu': ort / gflops['tfjs-cpu']! };
    results.push(row);
  }
  const report = {
    bench: 'ops',
    date: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    note: 'median seconds per run after one warm-up; GFLOP = 2 x multiply-adds; ratios from the same run',
    results,
  };
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(`${json}\n`);
  const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench-results/ops.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${json}\n`);
}

await main();
