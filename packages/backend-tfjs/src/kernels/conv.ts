/**
 * Convolutions on NCHW tensors with PyTorch weights, run as tfjs NHWC convolutions: conv2d (any
 * groups, asymmetric pads, dilation together with stride) and convTranspose2d (ONNX semantics).
 */
import * as tf from '@tensorflow/tfjs';
import type { Pair } from '@unias/graph';
import type { KernelTable } from './types.js';
import { arg, rank4, tfPadding } from './types.js';

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

/**
 * Spreads the taps of a [A, B, kh, kw] kernel `dilation` apart with zeros in between. tfjs has no
 * gradient for dilated convolutions (and refuses stride and dilation together); a zero-dilated
 * kernel gives the same values with ordinary, differentiable convolutions.
 */
export function dilateKernel(w: tf.Tensor, dilations: Pair): tf.Tensor {
  let k = w;
  const [dh, dw] = dilations;
  if (dh > 1) {
    const [a, b, kh, kw] = k.shape as [number, number, number, number];
    const spread = tf.pad(tf.reshape(k, [a, b, kh, 1, kw]), [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, dh - 1],
      [0, 0],
    ]);
    k = tf.slice(tf.reshape(spread, [a, b, kh * dh, kw]), [0, 0, 0, 0], [a, b, (kh - 1) * dh + 1, kw]);
  }
  if (dw > 1) {
    const [a, b, kh, kw] = k.shape as [number, number, number, number];
    const spread = tf.pad(tf.reshape(k, [a, b, kh, kw, 1]), [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, dw - 1],
    ]);
    k = tf.slice(tf.reshape(spread, [a, b, kh, kw * dw]), [0, 0, 0, 0], [a, b, kh, (kw - 1) * dw + 1]);
  }
  return k;
}

function addBias(y: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  return bias ? tf.add(y, bias) : y;
}

export const convKernels: Pick<KernelTable, 'conv2d' | 'convTranspose2d'> = {
  conv2d: (inputs, a) => {
    const x = arg(inputs, 0, 'conv2d');
    const w = dilateKernel(arg(inputs, 1, 'conv2d'), a.dilations);
    const ci = x.shape[1]!;
    const [co, cig, kh, kw] = w.shape as [number, number, number, number];
    const xh = rank4(tf.transpose(x, TO_NHWC), 'conv2d input');
    const strides: [number, number] = [a.strides[0], a.strides[1]];
    const pad = tfPadding(a.pads);
    let y: tf.Tensor;
    if (a.groups === 1) {
      y = tf.conv2d(xh, rank4(tf.transpose(w, [2, 3, 1, 0]), 'conv2d weight'), strides, pad);
    } else if (a.groups === ci && cig === 1) {
      // Depthwise: output channel c*m + j reads input channel c (PyTorch's grouping), as in tfjs.
      const m = co / ci;
      const filter = rank4(tf.transpose(tf.reshape(w, [ci, m, kh, kw]), [2, 3, 0, 1]), 'conv2d weight');
      y = tf.depthwiseConv2d(xh, filter, strides, pad);
    } else {
      const xs = tf.split(xh, a.groups, 3);
      const ws = tf.split(w, a.groups, 0);
      y = tf.concat(
        xs.map((xi, i) => tf.conv2d(rank4(xi, 'conv2d input'), rank4(tf.transpose(ws[i]!, [2, 3, 1, 0]), 'conv2d weight'), strides, pad)),
        3,
      );
    }
    return tf.transpose(addBias(y, inputs[2]), TO_NCHW);
  },

  /**
   * ONNX ConvTranspose: out = (in - 1) s - pb - pe + d (k - 1) + op + 1. Computed as the input
   * gradient of a forward conv with pads (pb, pe - op + s - 1): that conv maps the output size back
   * to the input size exactly. When outputPadding exceeds pe + s - 1 (possible only with d > s), the
   * last rows lie beyond every tap and are zeros: computed short and zero-padded.
   */
  convTranspose2d: (inputs, a) => {
    const x = arg(inputs, 0, 'convTranspose2d');
    const w = dilateKernel(arg(inputs, 1, 'convTranspose2d'), a.dilations);
    const [n, , h, wd] = x.shape as [number, number, number, number];
    const [, cog, kh, kw] = w.shape as [number, number, number, number];
    const [sh, sw] = a.strides;
    const [pt, pl, pb, pr] = a.pads;
    const [oph, opw] = a.outputPadding;
    const oh = (h - 1) * sh - pt - pb + kh + oph;
    const ow = (wd - 1) * sw - pl - pr + kw + opw;
    const fwdBottom = pb - oph + sh - 1;
    const fwdRight = pr - opw + sw - 1;
    const shortH = Math.max(0, -fwdBottom);
    const shortW = Math.max(0, -fwdRight);
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [pt, Math.max(0, fwdBottom)],
      [pl, Math.max(0, fwdRight)],
      [0, 0],
    ];
    const xh = tf.transpose(x, TO_NHWC);
    const xs = a.groups === 1 ? [xh] : tf.split(xh, a.groups, 3);
    const ws = a.groups === 1 ? [w] : tf.split(w, a.groups, 0);
    const parts = xs.map((xi, i) =>
      tf.conv2dTranspose(
        rank4(xi, 'convTranspose2d input'),
        rank4(tf.transpose(ws[i]!, [2, 3, 1, 0]), 'convTranspose2d weight'),
        [n, oh - shortH, ow - shortW, cog],
        [sh, sw],
        pad,
      ),
    );
    let y = parts.length === 1 ? parts[0]! : tf.concat(parts, 3);
    if (shortH > 0 || shortW > 0)
      y = tf.pad(y, [
        [0, 0],
        [0, shortH],
        [0, shortW],
        [0, 0],
      ]);
    return tf.transpose(addBias(y, inputs[2]), TO_NCHW);
  },
};
