/** Softmax, the normalisations (layer, group, inference batch) and cosine similarity. */
import * as tf from '@tensorflow/tfjs';
import { broadcastShapes } from '@unias/graph';
import type { KernelTable } from './types.js';
import { arg } from './types.js';

/** [C] -> [1, C, 1, ...] for a rank-`rank` NC... tensor. */
function perChannel(v: tf.Tensor, rank: number): tf.Tensor {
  const shape = new Array<number>(rank).fill(1);
  shape[1] = v.shape[0]!;
  return tf.reshape(v, shape);
}

/** (x - mean) / sqrt(var + eps) over `axis` of x (biased variance). */
function normalize(x: tf.Tensor, axis: number, eps: number): tf.Tensor {
  const mean = tf.mean(x, axis, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), axis, true);
  return tf.mul(centred, tf.rsqrt(tf.add(variance, eps)));
}

export const normKernels: Pick<KernelTable, 'softmax' | 'layerNorm' | 'groupNorm' | 'batchNorm' | 'cosineSimilarity'> = {
  // tfjs softmax works on the last axis only: swap the axis there and back.
  softmax: (inputs, a) => {
    const x = arg(inputs, 0, 'softmax');
    const last = x.rank - 1;
    if (a.axis === last) return tf.softmax(x);
    const perm = x.shape.map((_, i) => (i === a.axis ? last : i === last ? a.axis : i));
    return tf.transpose(tf.softmax(tf.transpose(x, perm)), perm);
  },
  layerNorm: (inputs, a) => {
    const x = arg(inputs, 0, 'layerNorm');
    return tf.add(tf.mul(normalize(x, -1, a.eps), arg(inputs, 1, 'layerNorm')), arg(inputs, 2, 'layerNorm'));
  },
  groupNorm: (inputs, a) => {
    const x = arg(inputs, 0, 'groupNorm');
    const n = x.shape[0]!;
    const grouped = normalize(tf.reshape(x, [n, a.groups, -1]), 2, a.eps);
    const y = tf.reshape(grouped, [...x.shape]);
    return tf.add(tf.mul(y, perChannel(arg(inputs, 1, 'groupNorm'), x.rank)), perChannel(arg(inputs, 2, 'groupNorm'), x.rank));
  },
  batchNorm: (inputs, a) => {
    const x = arg(inputs, 0, 'batchNorm');
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => perChannel(arg(inputs, i, 'batchNorm'), x.rank)) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
    return tf.add(tf.mul(tf.sub(x, mean), tf.mul(scale, tf.rsqrt(tf.add(variance, a.eps)))), bias);
  },
  // sum(a b) / max(|a| |b|, eps), written as sqrt(max(|a|^2 |b|^2, eps^2)) so the gradient stays
  // finite for a zero vector (the clamp stops it before the square root).
  cosineSimilarity: (inputs, a) => {
    let x = arg(inputs, 0, 'cosineSimilarity');
    let y = arg(inputs, 1, 'cosineSimilarity');
    const shape = broadcastShapes(x.shape, y.shape, 'cosineSimilarity');
    if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) x = tf.broadcastTo(x, shape);
    if (y.shape.length !== shape.length || y.shape.some((d, i) => d !== shape[i])) y = tf.broadcastTo(y, shape);
    const dot = tf.sum(tf.mul(x, y), a.axis);
    const norms = tf.mul(tf.sum(tf.square(x), a.axis), tf.sum(tf.square(y), a.axis));
    return tf.div(dot, tf.sqrt(tf.maximum(norms, a.eps * a.eps)));
  },
};
