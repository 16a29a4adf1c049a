/**
 * Throughput of graphs lowered by @unias/backend-onnx on onnxruntime-node (CPU):
 *  - a conv block (4x128x28x28, two 3x3 convs + GELU, 1x1 head) forward, params bound vs fed,
 *    on 1 and 2 threads, in GFLOP/s;
 *  - run() overhead on a one-element graph;
 *  - a carried 4M-float state (an SGD-like update) vs the same state fed and returned as JS arrays.
 * Writes JSON to stdout and to <repo>/bench-results/onnx-backend.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGraph, createRng, initParams, torchBiasInit, type Graph, type Session, type TensorData } from '@unias/graph';
import { uniform } from '@unias/graph/testing';
import { createOnnxBackend } from '../src/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const kaiming = { kind: 'kaimingUniform', a: Math.sqrt(5) } as const;

function convBlock(): { graph: Graph; flops: number } {
  const [n, c, h, w] = [4, 128, 28, 28];
  const b = createGraph();
  let x = b.input('x', [n, c, h, w]);
  for (const name of ['conv1', 'conv2']) {
    x = b.within(name, () => b.gelu(b.conv2d(x, b.param('weight', [c, c, 3, 3], kaiming), b.param('bias', [c], torchBiasInit(c * 9)), { padding: 1 })));
  }
  b.output(
    'y',
    b.within('head', () => b.conv2d(x, b.param('weight', [16, c, 1, 1], kaiming), null)),
  );
  const flops = 2 * (2 * n * c * c * 9 * h * w) + 2 * n * 16 * c * h * w;
  return { graph: b.build(), flops };
}

async function timeRuns(run: () => Promise<unknown>, minMs = 1500, warmup = 3): Promise<{ medianMs: number; runs: number }> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < minMs || times.length < 5) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)]!, runs: times.length };
}

const results: Array<Record<string, unknown>> = [];
function report(entry: Record<string, unknown>): void {
  results.push(entry);
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}

// ---- conv block --------------------------------------------------------------------------------
const { graph, flops } = convBlock();
const params = initParams(graph, 1);
const x = uniform(createRng(2), [4, 128, 28, 28]);
for (const threads of [1, 2]) {
  const backend = await createOnnxBackend({ intraOpNumThreads: threads });
  for (const bound of [true, false]) {
    const session = await backend.prepare(graph, bound ? { params } : {});
    const feeds: Record<string, TensorData> = bound ? { x } : { x, ...Object.fromEntries(params) };
    const t = await timeRuns(() => session.run(feeds));
    report({
      case: 'conv-block-forward',
      shape: '4x128x28x28',
      threads,
      params: bound ? 'bound' : 'fed',
      medianMs: +t.medianMs.toFixed(2),
      gflops: +(flops / t.medianMs / 1e6).toFixed(1),
      runs: t.runs,
    });
    await session.dispose();
  }
}

// ---- run() overhead ----------------------------------------------------------------------------
{
  const b = createGraph();
  const v = b.input('v', [1]);
  b.output('w', b.add(v, 1));
  const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
  const session = await backend.prepare(b.build());
  const feeds = { v: { dtype: 'float32', shape: [1], data: new Float32Array(1) } as const };
  const t = await timeRuns(() => session.run(feeds), 1000, 50);
  report({ case: 'run-overhead', medianUs: +(t.medianMs * 1000).toFixed(1), runs: t.runs });
  await session.dispose();
}

// ---- carried state vs fed state ----------------------------------------------------------------
{
  const size = 4 * 1024 * 1024;
  const b = createGraph();
  const w = b.param('w', [size], { kind: 'zeros' });
  const g = b.input('g', [size]);
  b.output('w_next', b.sub(w, b.mul(g, 0.01)));
  b.output('norm', b.sumAll(b.mul(w, w)));
  const stepGraph = b.build();
  const backend = await createOnnxBackend({ intraOpNumThreads: 2 });
  const grad = uniform(createRng(3), [size]);
  const carried: Session = await backend.prepare(stepGraph, { carry: { w_next: 'w' } });
  await carried.setState({ w: { dtype: 'float32', shape: [size], data: new Float32Array(size) } });
  const tc = await timeRuns(() => carried.run({ g: grad }));
  const fed = await backend.prepare(stepGraph);
  let state: TensorData = { dtype: 'float32', shape: [size], data: new Float32Array(size) };
  const tf = await timeRuns(async () => {
    const out = await fed.run({ g: grad, w: state });
    state = out.w_next!;
  });
  report({
    case: 'state-4M-floats',
    carriedMs: +tc.medianMs.toFixed(2),
    fedMs: +tf.medianMs.toFixed(2),
    fedOverCarried: +(tf.medianMs / tc.medianMs).toFixed(2),
  });
  await carried.dispose();
  await fed.dispose();
}

const doc = {
  bench: 'onnx-backend',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  results,
};
const text = `${JSON.stringify(doc, null, 2)}\n`;
await mkdir(join(repoRoot, 'bench-results'), { recursive: true });
await writeFile(join(repoRoot, 'bench-results', 'onnx-backend.json'), text);
process.stdout.write(text);
