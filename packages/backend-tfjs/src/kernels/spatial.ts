/** NHWC helpers shared by hand-written gradients. */
import * as tf from '@tensorflow/tfjs';

/**
 * Spreads an [N, h, w, C] grid `stride` apart with zeros between: [N, (h-1)sh+1, (w-1)sw+1, C].
 * (The transpose of taking every stride-th element.)
 */
export function spreadByStride(t: tf.Tensor, sh: number, sw: number): tf.Tensor {
  if (sh === 1 && sw === 1) return t;
  const [n, h, w, c] = t.shape as [number, number, number, number];
  const holes = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.slice(tf.reshape(holes, [n, h * sh, w * sw, c]), [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}
