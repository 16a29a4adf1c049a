import type * as tf from '@tensorflow/tfjs';
import type { OpAttrMap, OpName, OpNode } from '@unias/graph';

/** What a run knows beyond the op: the batch size it was built at and the one it runs at. */
export interface KernelContext {
  /** Set when the graph runs at another batch than it was built at (dynamicBatch). */
  readonly batch: { readonly built: number; readonly actual: number } | null;
}

/**
 * One op on tfjs. Kernels read shapes from the tensors they get, so a dynamic batch flows through;
 * `node` (build-time shapes) serves error messages and the few shape attributes that spell the
 * batch out (reshape, broadcastTo), which `ctx` lets them follow. Every kernel is made of
 * differentiable tfjs ops (or a `customGrad`), so `tf.grads` works through it.
 */
export type Kernel<K extends OpName> = (inputs: readonly tf.Tensor[], attrs: OpAttrMap[K], node: OpNode<K>, ctx: KernelContext) => tf.Tensor;

/** Keyed by every op of `OpAttrMap`: a missing op fails to compile. */
export type KernelTable = { readonly [K in OpName]: Kernel<K> };

/** The i-th input, or a clear error (arity is checked when the graph is built, so this is a guard). */
export function arg(inputs: readonly tf.Tensor[], i: number, op: string): tf.Tensor {
  const t = inputs[i];
  if (!t) throw new Error(`${op}: missing input ${i}`);
  return t;
}

function isRank4(t: tf.Tensor): t is tf.Tensor4D {
  return t.rank === 4;
}

/** Narrows to a rank-4 tensor (the tfjs conv and pool ops are typed on Tensor4D). */
export function rank4(t: tf.Tensor, what: string): tf.Tensor4D {
  if (!isRank4(t)) throw new Error(`${what}: expected a rank-4 tensor, got shape [${t.shape.join(',')}]`);
  return t;
}

/** tfjs explicit padding for NHWC: [[0,0],[top,bottom],[left,right],[0,0]]. */
export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Pads [top, left, bottom, right] as tfjs wants them: 'valid' when zero, else explicit NHWC pairs. */
export function tfPadding(pads: readonly [number, number, number, number]): 'valid' | ExplicitPadding {
  const [t, l, b, r] = pads;
  if (t === 0 && l === 0 && b === 0 && r === 0) return 'valid';
  return [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
}
