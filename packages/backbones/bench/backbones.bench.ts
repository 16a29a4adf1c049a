/**
 * Cost of every built-in backbone at 224x224, batch 1: parameters, GFLOP (multiply-adds x 2 of
 * conv and matmul nodes, counted from the graph) for the whole network and for the default taps
 * only, and the onnxruntime forward time of the default taps (median of 5 runs after a warm-up).
 * Writes JSON to stdout and to <repo>/bench-results/backbones.json.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOnnxBackend } from '@unias/backend-onnx';
import { countParams, initParams, sizeOf, writeFileAtomic, type Graph } from '@unias/graph';
import { buildBackboneGraph, listBackbones } from '../src/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SIZE = 224;
const RUNS = 5;

/** Multiply-adds x 2 of the conv2d and matmul nodes (elementwise ops, pools and norms not counted). */
export function graphFlops(graph: Graph): number {
  let flops = 0;
  for (const n of graph.nodes) {
    if (n.kind !== 'op') continue;
    if (n.op === 'conv2d') {
      const w = n.inputs[1]!.shape;
      flops += 2 * sizeOf(n.shape) * sizeOf(w.slice(1));
    } else if (n.op === 'matmul') {
      const a = n.inputs[0]!.shape;
      flops += 2 * sizeOf(n.shape) * a[a.length - 1]!;
    }
  }
  return flops;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const backend = await createOnnxBackend();
const results = [];
for (const bb of listBackbones()) {
  const { full, pruned } = buildBackboneGraph(bb, { size: SIZE });
  const session = await backend.prepare(pruned, { params: initParams(pruned, 1) });
  const image = { dtype: 'float32' as const, shape: [1, 3, SIZE, SIZE], data: new Float32Array(3 * SIZE * SIZE).fill(0.1) };
  await session.run({ image });
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await session.run({ image });
    times.push(performance.now() - t0);
  }
  await session.dispose();
  const row = {
    id: bb.id,
    params: countParams(full),
    paramsAffine: countParams(full, (p) => !p.name.endsWith('running_mean') && !p.name.endsWith('running_var')),
    gflopFull: +(graphFlops(full) / 1e9).toFixed(3),
    gflopTaps: +(graphFlops(pruned) / 1e9).toFixed(3),
    taps: bb.defaultTaps,
    ortMsTaps: +median(times).toFixed(1),
  };
  results.push(row);
  process.stderr.write(`${JSON.stringify(row)}\n`);
}

const json = JSON.stringify({ bench: 'backbones', size: SIZE, batch: 1, backend: backend.name, runs: RUNS, results }, null, 2);
process.stdout.write(`${json}\n`);
await writeFileAtomic(join(repoRoot, 'bench-results', 'backbones.json'), `${json}\n`);
