/**
 * The benchmark block written the way a plain tfjs user would (tf ops in NHWC, tf.variableGrads,
 * AdamW in tf ops) on stock tfjs-wasm: only the three gradient kernels wasm lacks are registered,
 * none of @unias/backend-tfjs's speed-ups. This is the baseline the training issue's "tfjs-wasm
 * at ~3 GFLOP/s" refers to. Run in its own process (kernel registration is global):
 *
 *   tsx --conditions=@unias/source bench/tfjs-stock.ts STEPS   -> prints {"step_ms": [...]}
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels, wasmBinaryDir } from '@unias/backend-tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { C, N, S } from './block.js';

const steps = Number(process.argv[2] ?? 3);
setWasmPaths(`${wasmBinaryDir()}/`);
registerWasmGradientKernels({ fastInputGradient: false });
await tf.setBackend('wasm');
await tf.ready();

const HEADS = 4;
const T = (S / 2) * (S / 2);
const glorot = (shape: number[]) =>
  tf.variable(tf.randomUniform(shape, -Math.sqrt(6 / (shape.at(-2)! + shape.at(-1)!)), Math.sqrt(6 / (shape.at(-2)! + shape.at(-1)!)), 'float32', 1));
const params: Record<string, tf.Variable> = {
  conv1: glorot([3, 3, C, C]),
  conv2: glorot([3, 3, C, C]),
  wq: glorot([C, C]),
  wk: glorot([C, C]),
  wv: glorot([C, C]),
  wo: glorot([C, C]),
  gamma: tf.variable(tf.ones([C])),
  beta: tf.variable(tf.zeros([C])),
  head: glorot([1, 1, C, C]),
};
const x = tf.randomUniform([N, S, S, C], -1, 1, 'float32', 2);
const target = tf.randomUniform([N, S, S, C], -1, 1, 'float32', 3);
const gelu = (v: tf.Tensor) => tf.mul(tf.mul(v, 0.5), tf.add(1, tf.erf(tf.div(v, Math.SQRT2))));

function loss(): tf.Scalar {
  let h = gelu(tf.conv2d(x as tf.Tensor4D, params['conv1'] as tf.Tensor4D, 1, 'same'));
  h = gelu(tf.conv2d(h as tf.Tensor4D, params['conv2'] as tf.Tensor4D, 1, 'same'));
  const pooled = tf.avgPool(h as tf.Tensor4D, 2, 2, 'valid');
  const tokens = tf.reshape(pooled, [N, T, C]);
  const heads = (w: tf.Tensor) => tf.transpose(tf.reshape(tf.matMul(tf.reshape(tokens, [N * T, C]), w as tf.Tensor2D), [N, T, HEADS, C / HEADS]), [0, 2, 1, 3]);
  const q = heads(params['wq']!);
  const k = heads(params['wk']!);
  const v = heads(params['wv']!);
  const attn = tf.softmax(tf.div(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), Math.sqrt(C / HEADS)));
  const ctx = tf.reshape(tf.transpose(tf.matMul(attn as tf.Tensor4D, v as tf.Tensor4D), [0, 2, 1, 3]), [N * T, C]);
  const res = tf.add(tokens, tf.reshape(tf.matMul(ctx as tf.Tensor2D, params['wo'] as tf.Tensor2D), [N, T, C]));
  const { mean, variance } = tf.moments(res, -1, true);
  const normed = tf.add(tf.mul(tf.div(tf.sub(res, mean), tf.sqrt(tf.add(variance, 1e-5))), params['gamma']!), params['beta']!);
  const map = tf.reshape(normed, [N, S / 2, S / 2, C]);
  const fused = tf.add(h, tf.image.resizeBilinear(map as tf.Tensor4D, [S, S]));
  const pred = tf.conv2d(fused as tf.Tensor4D, params['head'] as tf.Tensor4D, 1, 'valid');
  return tf.mean(tf.square(tf.sub(pred, target))) as tf.Scalar;
}

const moments = Object.fromEntries(Object.entries(params).map(([k, p]) => [k, [tf.variable(tf.zerosLike(p)), tf.variable(tf.zerosLike(p))] as const]));
const [lr, b1, b2, eps, wd] = [1e-3, 0.9, 0.999, 1e-8, 0.01];
const times: number[] = [];
for (let t = 1; t <= steps + 1; t++) {
  const start = performance.now();
  const { value, grads } = tf.variableGrads(loss);
  tf.tidy(() => {
    for (const [name, p] of Object.entries(params)) {
      const g = grads[name === p.name ? name : p.name]!;
      const [m, s] = moments[name]!;
      m.assign(m.mul(b1).add(g.mul(1 - b1)));
      s.assign(s.mul(b2).add(g.square().mul(1 - b2)));
      p.assign(
        p.mul(1 - lr * wd).sub(
          m
            .div(
              s
                .sqrt()
                .div(Math.sqrt(1 - b2 ** t))
                .add(eps),
            )
            .mul(lr / (1 - b1 ** t)),
        ),
      );
    }
  });
  await value.data();
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
  if (t > 1) times.push(performance.now() - start);
}
process.stdout.write(`${JSON.stringify({ step_ms: times })}\n`);
