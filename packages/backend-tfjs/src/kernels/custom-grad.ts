/** Typed wrappers around `tf.customGrad` (whose own signature mixes tensors and the save callback). */
import * as tf from '@tensorflow/tfjs';

export interface GradResult {
  readonly value: tf.Tensor;
  /** Gradients for every input, given dy and the tensors passed to `save` (kept by the tape). */
  readonly gradFunc: (dy: tf.Tensor, saved: readonly tf.Tensor[]) => tf.Tensor[];
}

/**
 * A function of n tensors whose gradient is given explicitly. Tensors the gradient needs must go
 * through `save` (the engine keeps them alive for the backward pass); closures over inputs are not
 * safe, since the interpreter frees intermediates early.
 */
export function withGradient(forward: (xs: readonly tf.Tensor[], save: (ts: tf.Tensor[]) => void) => GradResult): (...xs: tf.Tensor[]) => tf.Tensor {
  const op = tf.customGrad((...args) => {
    const xs = args.filter((a): a is tf.Tensor => a instanceof tf.Tensor);
    const last = args[args.length - 1];
    const save = typeof last === 'function' ? last : () => undefined;
    const { value, gradFunc } = forward(xs, save);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => gradFunc(dy, saved) };
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

/** Sums a gradient of a broadcast result back to an operand's shape (numpy broadcasting). */
export function reduceTo(g: tf.Tensor, shape: readonly number[]): tf.Tensor {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const summed = axes.length > 0 ? tf.sum(g, axes, true) : g;
  return tf.reshape(summed, [...shape]);
}
