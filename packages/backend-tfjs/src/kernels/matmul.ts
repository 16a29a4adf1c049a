/** Numpy matmul with broadcast batch dims. */
import * as tf from '@tensorflow/tfjs';
import { broadcastShapes } from '@unias/graph';
import { withGradient } from './custom-grad.js';
import type { KernelTable } from './types.js';
import { arg } from './types.js';

const product = (dims: readonly number[]): number => dims.reduce((p, d) => p * d, 1);

/** Swaps the last two axes. */
function transposeLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  perm[t.rank - 2] = t.rank - 1;
  perm[t.rank - 1] = t.rank - 2;
  return tf.transpose(t, perm);
}

/**
 * a @ b for rank-2 or equal-batch rank-3 operands, with the gradient as untransposed matmuls of
 * explicitly transposed operands: dA = dy @ b^T, dB = a^T @ dy. tfjs's own gradient asks for
 * transposeA / transposeB, which tfjs-wasm runs in a naive loop 12-24x slower than its XNNPACK
 * path (untransposed, batch 1); an explicit transpose costs a memory pass.
 */
const matmulOp = withGradient(([a, b], save) => {
  save([a!, b!]);
  return {
    value: tf.matMul(a!, b!),
    gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, transposeLast(sb!)), tf.matMul(transposeLast(sa!), dy)],
  };
});

/**
 * Broadcasting is made explicit: a batch-free right operand folds the left's batch into rows (one
 * 2-D matmul: the linear-layer case), otherwise both operands are broadcast (tf.broadcastTo sums in
 * its gradient) to [B, m, k] and [B, k, n]. (tfjs's BatchMatMul broadcasts in the forward pass but
 * its gradient comes back at the broadcast shape, unreduced.)
 */
export const matmulKernels: Pick<KernelTable, 'matmul'> = {
  matmul: (inputs) => {
    const a = arg(inputs, 0, 'matmul');
    const b = arg(inputs, 1, 'matmul');
    const [m, k] = a.shape.slice(-2) as [number, number];
    const n = b.shape[b.rank - 1]!;
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    if (batchA.length === 0 && batchB.length === 0) return matmulOp(a, b);
    const batch = broadcastShapes(batchA, batchB, 'matmul batch');
    if (batchB.every((d) => d === 1)) {
      return tf.reshape(matmulOp(tf.reshape(a, [-1, k]), tf.reshape(b, [k, n])), [...batch, m, n]);
    }
    const size = product(batch);
    const as3 = (t: tf.Tensor, rows: number, cols: number, own: readonly number[]): tf.Tensor => {
      const full = product(own) === size && own.length === batch.length ? t : tf.broadcastTo(t, [...batch, rows, cols]);
      return tf.reshape(full, [size, rows, cols]);
    };
    return tf.reshape(matmulOp(as3(a, m, k, batchA), as3(b, k, n, batchB)), [...batch, m, n]);
  },
};
