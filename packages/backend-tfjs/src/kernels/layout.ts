/** Reductions and layout ops: reshape, transpose, concat, slice, pad, broadcastTo. */
import * as tf from '@tensorflow/tfjs';
import { formatShape, resolveReshape } from '@unias/graph';
import type { KernelTable } from './types.js';
import { arg } from './types.js';

type LayoutOps = 'reduceSum' | 'reduceMean' | 'reduceMax' | 'reshape' | 'transpose' | 'concat' | 'slice' | 'pad' | 'broadcastTo';

/**
 * Every `step`-th element along `axis`, from the start, by pad + reshape + slice: differentiable
 * (tfjs has no gradient for StridedSlice) and dtype-safe (tfjs-wasm's StridedSlice returns int32
 * and bool data reinterpreted as float32).
 */
export function takeEvery(x: tf.Tensor, axis: number, step: number): tf.Tensor {
  if (step === 1) return x;
  const shape = x.shape;
  const length = shape[axis]!;
  const n = Math.ceil(length / step);
  const padded =
    n * step > length
      ? tf.pad(
          x,
          shape.map((_, i): [number, number] => [0, i === axis ? n * step - length : 0]),
        )
      : x;
  const split = [...shape.slice(0, axis), n, step, ...shape.slice(axis + 1)];
  const picked = tf.slice(
    tf.reshape(padded, split),
    split.map(() => 0),
    split.map((d, i) => (i === axis + 1 ? 1 : d)),
  );
  return tf.reshape(picked, [...shape.slice(0, axis), n, ...shape.slice(axis + 1)]);
}

/** `length` entries of `axis` from `start`. */
function sliceAxis(x: tf.Tensor, axis: number, start: number, length: number): tf.Tensor {
  return tf.slice(
    x,
    x.shape.map((_, i) => (i === axis ? start : 0)),
    x.shape.map((d, i) => (i === axis ? length : d)),
  );
}

/**
 * Reflect padding (no edge repeat) from slices, reversals and a concat. tfjs's mirrorPad gives the
 * right values but its gradient only slices the centre (the reflected copies get no gradient).
 */
function reflectPad(x: tf.Tensor, pairs: ReadonlyArray<[number, number]>): tf.Tensor {
  let y = x;
  pairs.forEach(([begin, end], axis) => {
    if (begin === 0 && end === 0) return;
    const n = y.shape[axis]!;
    const parts: tf.Tensor[] = [];
    if (begin > 0) parts.push(tf.reverse(sliceAxis(y, axis, 1, begin), axis));
    parts.push(y);
    if (end > 0) parts.push(tf.reverse(sliceAxis(y, axis, n - 1 - end, end), axis));
    y = tf.concat(parts, axis);
  });
  return y;
}

const product = (dims: readonly number[]): number => dims.reduce((p, d) => p * d, 1);

/**
 * The run-time target of a reshape. When the batch changed (dynamicBatch), the input dim that
 * differs from its build-time size is followed to the output axis that held it at build time, so
 * targets that spell the batch out (flatten: [B, -1]; [B, 8]) stay right; otherwise ONNX rules
 * (0 copies, -1 infers) against the run-time shape.
 */
function reshapeTarget(x: tf.Tensor, built: readonly number[], outBuilt: readonly number[], target: readonly number[]): number[] {
  const changed = x.shape.map((d, i) => (d !== built[i] ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 1 && x.rank === built.length) {
    const a = changed[0]!;
    const before = product(built.slice(0, a));
    const after = product(built.slice(a + 1));
    for (let k = 0, acc = 1; k < outBuilt.length && acc <= before; acc *= outBuilt[k]!, k++) {
      if (acc === before && outBuilt[k] === built[a] && product(outBuilt.slice(k + 1)) === after) {
        return outBuilt.map((d, i) => (i === k ? x.shape[a]! : d));
      }
    }
  }
  return resolveReshape(x.shape, target);
}

export const layoutKernels: Pick<KernelTable, LayoutOps> = {
  reduceSum: (inputs, a) => tf.sum(arg(inputs, 0, 'reduceSum'), [...a.axes], a.keepDims),
  reduceMean: (inputs, a) => tf.mean(arg(inputs, 0, 'reduceMean'), [...a.axes], a.keepDims),
  reduceMax: (inputs, a) => tf.max(arg(inputs, 0, 'reduceMax'), [...a.axes], a.keepDims),
  reshape: (inputs, a, node) => {
    const x = arg(inputs, 0, 'reshape');
    return tf.reshape(x, reshapeTarget(x, node.inputs[0]?.shape ?? x.shape, node.shape, a.shape));
  },
  transpose: (inputs, a) => tf.transpose(arg(inputs, 0, 'transpose'), [...a.perm]),
  concat: (inputs, a) => tf.concat([...inputs], a.axis),
  slice: (inputs, a) => {
    const x = arg(inputs, 0, 'slice');
    const begin = x.shape.map(() => 0);
    const size = [...x.shape];
    a.axes.forEach((ax, i) => {
      begin[ax] = a.starts[i]!;
      size[ax] = Math.max(0, Math.min(a.ends[i]!, x.shape[ax]!) - a.starts[i]!);
    });
    let y = tf.slice(x, begin, size);
    a.axes.forEach((ax, i) => {
      const step = a.steps[i]!;
      if (step > 1) {
        const next = takeEvery(y, ax, step);
        if (next !== y) y.dispose();
        y = next;
      }
    });
    return y;
  },
  pad: (inputs, a) => {
    const x = arg(inputs, 0, 'pad');
    const r = x.rank;
    const pairs = x.shape.map((_, i): [number, number] => [a.pads[i]!, a.pads[i + r]!]);
    // 'reflect' mirrors without repeating the edge (numpy / torch 'reflect').
    return a.mode === 'reflect' ? reflectPad(x, pairs) : tf.pad(x, pairs, a.value);
  },
  broadcastTo: (inputs, a, _node, ctx) => {
    const x = arg(inputs, 0, 'broadcastTo');
    const target = [...a.shape];
    // At another batch than built: a dim the input has (size > 1) follows the input; a leading dim
    // equal to the built batch that the input lacks (a param expanded per sample) becomes the batch.
    if (ctx.batch) {
      const lead = target.length - x.rank;
      target.forEach((d, i) => {
        const own = i >= lead ? x.shape[i - lead]! : 1;
        if (own !== 1) target[i] = own;
        else if (i === 0 && d === ctx.batch!.built) target[i] = ctx.batch!.actual;
      });
    }
    if (x.shape.length === target.length && x.shape.every((d, i) => d === target[i])) return tf.clone(x);
    try {
      return tf.broadcastTo(x, target);
    } catch {
      throw new Error(`broadcastTo: ${formatShape(x.shape)} does not broadcast to ${formatShape(target)}`);
    }
  },
};
