/**
 * @unias/backend-tfjs measurements:
 *  - parity: max relative error against the float64 reference over every OP_CASE, per runtime;
 *  - a conv block (4x128x28x28, two 3x3 convs + GELU, 1x1 head, as the ONNX backend's bench) on
 *    tfjs-wasm: forward through a session and a training step (tf.grads through runGraphTf), each
 *    against the same math written by hand in NHWC tfjs (what the interpreter's layout and
 *    bookkeeping cost);
 *  - a linear layer's training step through the interpreter (explicit-transpose matmul gradient)
 *    against tfjs's own matmul gradient (transposeA/B: tfjs-wasm's naive loop);
 *  - the wasm Conv2DBackpropFilter kernel: im2col + one matmul vs one matmul per tap.
 * Timed code never returns typed arrays from tf.tidy (tidy walks them element by element).
 * Writes JSON to stdout and to <repo>/bench-results/tfjs-backend.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { createGraph, createRng, initParams, torchBiasInit, type Graph, type Sym } from '@unias/graph';
import { OP_CASES, caseGraph, evaluateReference, maxRelError, uniform } from '@unias/graph/testing';
import { conv2dFilterGradient, createTfjsBackend, runGraphTf, toTensor } from '../src/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const kaiming = { kind: 'kaimingUniform', a: Math.sqrt(5) } as const;
const [N, C, H, W] = [4, 128, 28, 28];

function convBlock(): { graph: Graph; flops: number } {
  const b = createGraph();
  let x: Sym = b.input('x', [N, C, H, W]);
  for (const name of ['conv1', 'conv2']) {
    x = b.within(name, () => b.gelu(b.conv2d(x, b.param('weight', [C, C, 3, 3], kaiming), b.param('bias', [C], torchBiasInit(C * 9)), { padding: 1 })));
  }
  b.output(
    'y',
    b.within('head', () => b.conv2d(x, b.param('weight', [16, C, 1, 1], kaiming), null)),
  );
  return { graph: b.build(), flops: 2 * (2 * N * C * C * 9 * H * W) + 2 * N * 16 * C * H * W };
}

async function median(run: () => unknown | Promise<unknown>, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Waits for the values (dataSync) and frees the tensors. */
function settle(ts: tf.Tensor | tf.Tensor[]): void {
  for (const t of Array.isArray(ts) ? ts : [ts]) {
    t.dataSync();
    t.dispose();
  }
}

const results: Array<Record<string, unknown>> = [];
function report(entry: Record<string, unknown>): void {
  results.push(entry);
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}

async function parity(): Promise<void> {
  for (const runtime of ['tfjs-cpu', 'tfjs-wasm'] as const) {
    const backend = await createTfjsBackend({ prefer: [runtime] });
    let worst = 0;
    let worstCase = '';
    for (const c of OP_CASES) {
      const { graph, feeds } = caseGraph(c);
      const want = evaluateReference(graph, feeds);
      const s = await backend.prepare(graph);
      const got = await s.run(feeds);
      await s.dispose();
      for (const [name, ref] of Object.entries(want)) {
        const e = maxRelError(got[name]!.data, ref.data);
        if (e > worst) [worst, worstCase] = [e, `${c.id}:${name}`];
      }
    }
    report({ bench: 'parity', runtime, cases: OP_CASES.length, maxRelError: worst, worstCase });
  }
}

/** The conv block by hand: NHWC activations, HWIO filters, no interpreter. */
function handBlock(x: tf.Tensor4D, p: Record<string, tf.Tensor>): tf.Tensor {
  let h: tf.Tensor4D = x;
  for (const name of ['conv1', 'conv2']) {
    const f = tf.transpose(p[`${name}.weight`]!, [2, 3, 1, 0]) as tf.Tensor4D;
    const y = tf.add(tf.conv2d(h, f, 1, 1), p[`${name}.bias`]!);
    h = tf.mul(tf.mul(y, 0.5), tf.add(tf.erf(tf.mul(y, Math.SQRT1_2)), 1)) as tf.Tensor4D;
  }
  return tf.conv2d(h, tf.transpose(p['head.weight']!, [2, 3, 1, 0]) as tf.Tensor4D, 1, 'valid');
}

async function convBlockOnWasm(): Promise<void> {
  const backend = await createTfjsBackend({ prefer: ['tfjs-wasm'] });
  const { graph, flops } = convBlock();
  const params = initParams(graph, 1);
  const x = uniform(createRng(2), [N, C, H, W]);
  const session = await backend.prepare(graph, { params });
  const sessionMs = await median(() => session.run({ x }));
  await session.dispose();

  const p: Record<string, tf.Tensor> = {};
  for (const [k, v] of params) p[k] = toTensor(v, k);
  const xt = toTensor(x, 'x');
  const xh = tf.transpose(xt, [0, 2, 3, 1]) as tf.Tensor4D;
  const interpMs = await median(() => settle(tf.tidy(() => runGraphTf(graph, { x: xt }, p)['y']!)));
  const handMs = await median(() => settle(tf.tidy(() => handBlock(xh, p))));
  report({
    bench: 'conv-block-forward',
    runtime: 'tfjs-wasm',
    shape: [N, C, H, W],
    gflop: flops / 1e9,
    sessionMs,
    runGraphTfMs: interpMs,
    handNhwcMs: handMs,
    gflopsSession: flops / 1e6 / sessionMs,
    overheadRatio: interpMs / handMs,
  });

  const names = [...params.keys()];
  const cotangent = tf.tensor(uniform(createRng(3), [N, 16, H, W]).data, [N, 16, H, W]);
  const cotNhwc = tf.transpose(cotangent, [0, 2, 3, 1]);
  const stepInterp = () =>
    settle(
      tf.tidy(() =>
        tf.grads((...ws: tf.Tensor[]) => {
          const bound = Object.fromEntries(names.map((n, i) => [n, ws[i]!]));
          return tf.sum(tf.mul(runGraphTf(graph, { x: xt }, bound)['y']!, cotangent));
        })(names.map((n) => p[n]!)),
      ),
    );
  const stepHand = () =>
    settle(
      tf.tidy(() =>
        tf.grads((...ws: tf.Tensor[]) => {
          const bound = Object.fromEntries(names.map((n, i) => [n, ws[i]!]));
          return tf.sum(tf.mul(handBlock(xh, bound), cotNhwc));
        })(names.map((n) => p[n]!)),
      ),
    );
  const stepInterpMs = await median(stepInterp, 3);
  const stepHandMs = await median(stepHand, 3);
  report({
    bench: 'conv-block-train-step',
    runtime: 'tfjs-wasm',
    shape: [N, C, H, W],
    runGraphTfMs: stepInterpMs,
    handNhwcMs: stepHandMs,
    overheadRatio: stepInterpMs / stepHandMs,
    imgPerS: (N * 1000) / stepInterpMs,
  });
  tf.dispose([xt, xh, cotangent, cotNhwc, ...Object.values(p)]);
}

/** x [1568, 256] -> linear 512 -> GELU, gradients for x and w: interpreter vs tfjs's own matmul gradient. */
async function linearStep(): Promise<void> {
  await createTfjsBackend({ prefer: ['tfjs-wasm'] });
  const [rows, din, dout] = [1568, 256, 512];
  const b = createGraph();
  const xin = b.input('x', [rows, din]);
  b.output('y', b.gelu(b.linear(xin, b.param('w', [dout, din], kaiming))));
  const graph = b.build();
  const x = tf.tensor(uniform(createRng(6), [rows, din]).data, [rows, din]);
  const w = tf.tensor(uniform(createRng(7), [dout, din]).data, [dout, din]);
  const cot = tf.tensor(uniform(createRng(8), [rows, dout]).data, [rows, dout]);
  const gelu = (y: tf.Tensor) => tf.mul(tf.mul(y, 0.5), tf.add(tf.erf(tf.mul(y, Math.SQRT1_2)), 1));
  const interp = () =>
    settle(tf.tidy(() => tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(runGraphTf(graph, { x: a }, { w: c })['y']!, cot)))([x, w])));
  const native = () => settle(tf.tidy(() => tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(gelu(tf.matMul(a, c, false, true)), cot)))([x, w])));
  const flops = 3 * 2 * rows * din * dout;
  const interpMs = await median(interp);
  const nativeMs = await median(native);
  report({
    bench: 'linear-train-step',
    runtime: 'tfjs-wasm',
    shape: [rows, din, dout],
    runGraphTfMs: interpMs,
    tfjsOwnGradientMs: nativeMs,
    speedup: nativeMs / interpMs,
    gflopsRunGraphTf: flops / 1e6 / interpMs,
  });
  tf.dispose([x, w, cot]);
}

async function filterGradient(): Promise<void> {
  await createTfjsBackend({ prefer: ['tfjs-wasm'] });
  const x = tf.tensor(uniform(createRng(4), [N, H, W, C]).data, [N, H, W, C]);
  const dy = tf.tensor(uniform(createRng(5), [N, H, W, C]).data, [N, H, W, C]);
  const info = tf.backend_util.computeConv2DInfo([N, H, W, C], [3, 3, C, C], 1, 1, 'same');
  const flops = 2 * N * H * W * 9 * C * C;
  const im2colMs = await median(() => settle(tf.tidy(() => conv2dFilterGradient(x, dy, info, 'im2col'))));
  const tapsMs = await median(() => settle(tf.tidy(() => conv2dFilterGradient(x, dy, info, 'taps'))));
  const forwardMs = await median(() => settle(tf.tidy(() => tf.conv2d(x as tf.Tensor4D, tf.ones([3, 3, C, C]) as tf.Tensor4D, 1, 'same'))));
  report({
    bench: 'wasm-conv2d-filter-gradient',
    shape: [N, H, W, C],
    kernel: [3, 3],
    im2colMs,
    tapsMs,
    forwardConvMs: forwardMs,
    gflopsIm2col: flops / 1e6 / im2colMs,
    gflopsForward: flops / 1e6 / forwardMs,
  });
  tf.dispose([x, dy]);
}

await parity();
await convBlockOnWasm();
await linearStep();
await filterGradient();
const out = { bench: 'tfjs-backend', node: process.version, tfjs: tf.version_core, results };
const json = JSON.stringify(out, null, 2);
process.stdout.write(`${json}\n`);
await mkdir(join(repoRoot, 'bench-results'), { recursive: true });
await writeFile(join(repoRoot, 'bench-results', 'tfjs-backend.json'), `${json}\n`);
