/**
 * Inference cost of the whole pipeline (image -> anomaly map) per preset: GFLOP per image counted
 * from the graph, and measured time per image on onnxruntime (2 threads; batch 1 and 8) and on
 * tfjs-wasm (batch 1, small and cpu presets only: one thread). Random weights (timing does not
 * depend on values). Writes JSON to stdout and to <repo>/bench-results/model-pipeline.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, initParams, type Backend, type Graph, type TensorData } from '@unias/graph';
import { createOnnxBackend } from '@unias/backend-onnx';
import { createTfjsBackend } from '@unias/backend-tfjs';
import { PRESETS, buildInferenceGraph, countModelFlops, resolveConfig, type PresetName } from '../src/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function median(run: () => Promise<unknown>, minMs: number, warmup = 1): Promise<{ medianMs: number; runs: number }> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < minMs || times.length < 3) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, runs: times.length };
}

function image(batch: number, size: readonly [number, number]): TensorData {
  const n = batch * 3 * size[0] * size[1];
  return { dtype: 'float32', shape: [batch, 3, size[0], size[1]], data: createRng(1).fillUniform(new Float32Array(n), 0, 1) };
}

async function measure(backend: Backend, graph: Graph, batch: number, size: readonly [number, number], minMs: number) {
  const session = await backend.prepare(graph, { params: initParams(graph, 0), dynamicBatch: true });
  try {
    const feed = { image: image(batch, size) };
    const t = await median(() => session.run(feed), minMs);
    return { batch, msPerImage: +(t.medianMs / batch).toFixed(2), runs: t.runs };
  } finally {
    await session.dispose();
  }
}

const results: Record<string, unknown>[] = [];
const ort = await createOnnxBackend();
const wasm = await createTfjsBackend({ prefer: ['tfjs-wasm'] });
for (const preset of ['paper', 'small', 'cpu'] as PresetName[]) {
  const config = resolveConfig(PRESETS[preset]);
  const graph = buildInferenceGraph(config);
  const flops = countModelFlops(graph);
  const gflop = flops.total / 1e9;
  const row: Record<string, unknown> = {
    preset,
    backbone: config.backbone.id,
    inputSize: config.inputSize,
    gflopPerImage: +gflop.toFixed(3),
    gflopByPart: Object.fromEntries(Object.entries(flops.byScope).map(([k, v]) => [k, +(v / 1e9).toFixed(3)])),
    onnx: [] as unknown[],
  };
  for (const batch of [1, 8]) {
    const m = await measure(ort, graph, batch, config.inputSize, 3000);
    (row['onnx'] as unknown[]).push({ ...m, gflopPerSecond: +((gflop * 1000) / m.msPerImage).toFixed(1) });
    console.error(`${preset} onnx batch ${batch}: ${m.msPerImage} ms/image`);
  }
  if (preset !== 'paper') {
    const m = await measure(wasm, graph, 1, config.inputSize, 2000);
    row['tfjsWasm'] = { ...m, gflopPerSecond: +((gflop * 1000) / m.msPerImage).toFixed(1) };
    console.error(`${preset} tfjs-wasm: ${m.msPerImage} ms/image`);
  }
  results.push(row);
}
const report = { bench: 'model-pipeline', date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, results };
const json = JSON.stringify(report, null, 2);
console.log(json);
await mkdir(join(repoRoot, 'bench-results'), { recursive: true });
await writeFile(join(repoRoot, 'bench-results', 'model-pipeline.json'), `${json}\n`);
