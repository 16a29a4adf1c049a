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
