/**
 * The backward graphs `grad` builds, run on the real backends, against the float64 reference; and
 * tfjs's own autodiff (tf.grads through runGraphTf of the same forward) against our gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { createOnnxBackend } from '@unias/backend-onnx';
import { activateRuntime, loadRuntime, runGraphTf } from '@unias/backend-tfjs';
import { evaluateReference, maxRelError, OP_CASES } from '@unias/graph/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGradCase, WorstPerKey } from './testing/grad-cases.js';

const CASES = OP_CASES.filter((c) => c.differentiable !== false);
const TOLERANCE = 1e-4;

function referenceGrads(gc: ReturnType<typeof buildGradCase>) {
  return evaluateReference(gc.graph, gc.feeds, { outputs: gc.wrt.map((w) => `grad:${w}`) });
}

describe('backward graphs on ONNX Runtime vs the float64 reference', () => {
  const worst = new WorstPerKey();
  afterAll(() => console.info(`ORT backward vs reference, worst per op: ${worst.summary()}`));

  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (_, c) => {
    const gc = buildGradCase(c);
    const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
    const outputs = gc.wrt.map((w) => `grad:${w}`);
    const session = await backend.prepare(gc.graph, { outputs });
    try {
      const got = await session.run(Object.fromEntries(Object.entries(gc.feeds).filter(([k]) => session.inputNames.includes(k))));
      const want = referenceGrads(gc);
      for (const o of outputs) {
        const err = maxRelError(got[o]!.data, want[o]!.data);
        worst.add(c.op, err);
        expect(err, o).toBeLessThan(TOLERANCE);
      }
    } finally {
      await session.dispose();
    }
  });
});

/** tf.grads of the contracted loss, run through runGraphTf on the current tfjs backend. */
function tfjsAutodiff(gc: ReturnType<typeof buildGradCase>): Record<string, Float32Array> {
  return tf.tidy(() => {
    const fixed: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(gc.feeds)) if (!gc.wrt.includes(k)) fixed[k] = tf.tensor(v.data, [...v.shape], v.dtype);
    const xs = gc.wrt.map((w) => tf.tensor(gc.feeds[w]!.data, [...gc.feeds[w]!.shape], 'float32'));
    const f = (...args: tf.Tensor[]) => {
      const feeds = { ...fixed };
      gc.wrt.forEach((w, i) => (feeds[w] = args[i]!));
      return runGraphTf(gc.graph, feeds, undefined, { outputs: ['loss'] })['loss']!;
    };
    const grads = tf.grads(f)(xs);
    return Object.fromEntries(gc.wrt.map((w, i) => [w, grads[i]!.dataSync() as Float32Array]));
  });
}

for (const runtime of ['tfjs-cpu', 'tfjs-wasm'] as const) {
  // wasm: the ops whose tfjs gradients go through its own kernels (convolutions, matmul, norms, resize, pooling)
  const subset =
    runtime === 'tfjs-cpu'
      ? CASES
      : CASES.filter((c) =>
          ['conv2d', 'convTranspose2d', 'matmul', 'layerNorm', 'groupNorm', 'softmax', 'gelu', 'resizeBilinear', 'avgPool2d', 'maxPool2d', 'pad'].includes(
            c.op,
          ),
        );
  describe(`tfjs autodiff (${runtime}) vs our gradients`, () => {
    const worst = new WorstPerKey();
    beforeAll(async () => activateRuntime(await loadRuntime(runtime)));
    afterAll(() => console.info(`${runtime} tf.grads vs grad(), worst per op: ${worst.summary()}`));

    it.each(subset.map((c) => [c.id, c] as const))('%s', (_, c) => {
      const gc = buildGradCase(c);
      const before = tf.memory().numTensors;
      const theirs = tfjsAutodiff(gc);
      expect(tf.memory().numTensors).toBe(before);
      const ours = referenceGrads(gc);
      for (const w of gc.wrt) {
        const err = maxRelError(theirs[w]!, ours[`grad:${w}`]!.data);
        worst.add(c.op, err);
        expect(err, w).toBeLessThan(TOLERANCE);
      }
    });
  });
}
