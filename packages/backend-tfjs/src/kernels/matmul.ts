/** Numpy matmul with broadcast batch dims. */
import * as tf from '@tensorflow/tfjs';
import { broadcastShapes } from '@unias/graph';
import type { KernelTable } from './types.js';
import { arg } from './types.js';

const product = (dims: readonly number[]): number => dims.reduce((p, d) => p * d, 1);

/**
 * tfjs's BatchMatMul broadcasts batch dims in the forward pass but its gradient does not reduce
 * over them (the gradient comes back at the broadcast shape), so broadcasting is made explicit:
 * a batch-free right operand folds the left's batch into rows (one 2-D matmul: the linear-layer
 * case), otherwise both operands are broadcast (tf.broadcastTo sums in its gradient) to [B, m, k].
 */
export const matmulKernels: Pick<KernelTable, 'matmul'> = {
  matmul: (inputs) => {
    const a = arg(inputs, 0, 'matmul');
    const b = arg(inputs, 1, 'matmul');
    const [m, k] = a.shape.slice(-2) as [number, number];
    const n = b.shape[b.rank - 1]!;
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    if (batchA.length === 0 && batchB.length === 0) return tf.matMul(a, b);
    const batch = broadcastShapes(batchA, batchB, 'matmul batch');
    if (batchB.every((d) => d === 1)) {
      return tf.reshape(tf.matMul(tf.reshape(a, [-1, k]), tf.reshape(b, [k, n])), [...batch, m, n]);
    }
    const size = product(batch);
    const as3 = (t: tf.Tensor, rows: number, cols: number, own: readonly number[]): tf.Tensor => {
      const full = product(own) === size && own.length === batch.length ? t : tf.broadcastTo(t, [...batch, rows, cols]);
      return tf.reshape(full, [size, rows, cols]);
    };
    const y = tf.matMul(as3(a, m, k, batchA), as3(b, k, n, batchB));
    return tf.reshape(y, [...batch, m, n]);
  },
};
