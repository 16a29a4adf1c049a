import { formatShape, type Shape } from './tensor-data.js';

/** Numpy broadcasting of two shapes; throws naming both when they do not broadcast. */
export function broadcastShapes(a: Shape, b: Shape, what = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${what}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises a possibly negative axis against a rank; throws on out-of-range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${what} ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

export function normAxes(axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normAxis(a, rank, what));
  if (new Set(out).size !== out.length) throw new Error(`${what} [${axes.join(',')}] repeat an axis`);
  return out.sort((x, y) => x - y);
}

/** Resolves a reshape target with ONNX semantics: 0 copies the input dim, one -1 is inferred. */
export function resolveReshape(input: Shape, target: readonly number[]): number[] {
  const total = input.reduce((p, d) => p * d, 1);
  let infer = -1;
  let known = 1;
  const out = target.map((d, i) => {
    if (d === 0) {
      if (i >= input.length) throw new Error(`reshape: 0 at position ${i} has no input dim to copy`);
      known *= input[i]!;
      return input[i]!;
    }
    if (d === -1) {
      if (infer >= 0) throw new Error('reshape: more than one -1');
      infer = i;
      return -1;
    }
    if (!Number.isInteger(d) || d < 0) throw new Error(`reshape: bad dim ${d}`);
    known *= d;
    return d;
  });
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new Error(`reshape: cannot reshape ${formatShape(input)} to [${target.join(',')}]`);
    }
    out[infer] = total / known;
  } else if (known !== total) {
    throw new Error(`reshape: cannot reshape ${formatShape(input)} (${total} values) to [${target.join(',')}]`);
  }
  return out;
}

/** Output length of a convolution / pooling window along one axis. */
export function convOutSize(size: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation = 1): number {
  const span = dilation * (kernel - 1) + 1;
  return Math.floor((size + padBegin + padEnd - span) / stride) + 1;
}

/**
 * TensorFlow "SAME" padding for one axis: total pad so that out = ceil(size / stride), the extra
 * pixel going to the end (bottom/right), as TF and EfficientNet's Conv2dStaticSamePadding do.
 */
export function samePadding(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}
