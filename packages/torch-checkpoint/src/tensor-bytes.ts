/**
 * A tensor's elements as contiguous little-endian bytes in row-major order: a view of the storage
 * when the tensor already is one (no copy), else gathered through its offset and strides (a
 * transposed or sliced tensor), byte-swapped when the file was written on a big-endian machine.
 */
import { TorchCheckpointError } from './errors.js';
import { ELEMENT_SIZE } from './torch-globals.js';
import type { TorchTensor } from './py-values.js';

/** Default cap on one tensor's materialised size: a broadcast view (stride 0) could otherwise claim any size. */
export const DEFAULT_MAX_TENSOR_BYTES = 2 ** 31;

export interface TensorBytesOptions {
  readonly source: string;
  readonly bigEndian: boolean;
  readonly maxTensorBytes?: number;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i]! !== 1 && stride[i]! !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

export function tensorBytes(t: TorchTensor, name: string, o: TensorBytesOptions): Uint8Array {
  const el = ELEMENT_SIZE[t.storage.dtype];
  const numel = t.shape.reduce((p, d) => p * d, 1);
  const out = numel * el;
  const max = o.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES;
  if (out > max) {
    throw new TorchCheckpointError(o.source, `tensor "${name}" [${t.shape.join(',')}] would take ${out} bytes, over the ${max}-byte limit per tensor`);
  }
  if (numel === 0) return new Uint8Array(0);
  const src = t.storage.bytes;
  if (!src || src.length !== t.storage.numel * el) {
    throw new TorchCheckpointError(
      o.source,
      `tensor "${name}": storage "${t.storage.key}" holds ${src?.length ?? 0} bytes, ${t.storage.numel} x ${t.storage.dtype} needs ${t.storage.numel * el}`,
    );
  }
  if (isContiguous(t.shape, t.stride) && !o.bigEndian) return src.subarray(t.offset * el, t.offset * el + out);

  const dst = new Uint8Array(out);
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let from = t.offset;
  for (let i = 0; i < numel; i++) {
    const s = from * el;
    if (o.bigEndian) for (let b = 0; b < el; b++) dst[i * el + b] = src[s + el - 1 - b]!;
    else for (let b = 0; b < el; b++) dst[i * el + b] = src[s + b]!;
    // Odometer step over the dimensions, last fastest.
    for (let d = rank - 1; d >= 0; d--) {
      index[d] = index[d]! + 1;
      from += t.stride[d]!;
      if (index[d]! < t.shape[d]!) break;
      from -= index[d]! * t.stride[d]!;
      index[d] = 0;
    }
  }
  return dst;
}
