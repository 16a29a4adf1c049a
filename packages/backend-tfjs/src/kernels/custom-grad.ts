/** Typed wrappers around `tf.customGrad` (whose own signature mixes tensors and the save callback). */
import * as tf from '@tensorflow/tfjs';

export interface GradResult {
  readonly value: tf.Tensor;
  readonly gradFunc: (dy: tf.Tensor) => tf.Tensor[];
}

/** A function of n tensors whose gradient is given explicitly. */
export function withGradient(forward: (xs: readonly tf.Tensor[]) => GradResult): (...xs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad((...args) => {
    const xs = args.filter((a): a is tf.Tensor => a instanceof tf.Tensor);
    const { value, gradFunc } = forward(xs);
    return { value, gradFunc: (dy: tf.Tensor) => gradFunc(dy) };
  });
  return (...xs) => op(...xs);
}

/**
 * `f` with a zero gradient for every input: for results that are piecewise constant in float
 * inputs (comparisons, casts to int or bool). tfjs has no gradient for Greater/Less/Equal/NotEqual
 * (a tape through them throws) and passes Cast's gradient straight through (as if int(x) were x).
 * Inputs that are not float32 cannot be on a gradient path, so they skip the wrapper.
 */
export function zeroGradient(f: (...xs: tf.Tensor[]) => tf.Tensor): (...xs: tf.Tensor[]) => tf.Tensor {
  const wrapped = withGradient((xs) => {
    const shapes = xs.map((x) => x.shape);
    return { value: f(...xs), gradFunc: () => shapes.map((s) => tf.zeros(s)) };
  });
  return (...xs) => (xs.some((x) => x.dtype === 'float32') ? wrapped(...xs) : f(...xs));
}
