/** Crossing the host boundary: `TensorData` (row-major typed arrays) <-> tf tensors. */
import * as tf from '@tensorflow/tfjs';
import { formatShape, sizeOf, type DType, type TensorData } from '@unias/graph';

/** Uploads host data as a tf tensor of the same dtype (bool travels as 0/1 bytes). */
export function toTensor(value: TensorData, what: string): tf.Tensor {
  const n = sizeOf(value.shape);
  if (value.data.length !== n) {
    throw new Error(`${what}: ${value.data.length} values do not fill shape ${formatShape(value.shape)} (${n} values)`);
  }
  switch (value.dtype) {
    case 'float32':
      return tf.tensor(value.data, [...value.shape], 'float32');
    case 'int32':
      return tf.tensor(value.data, [...value.shape], 'int32');
    case 'bool':
      return tf.tensor(value.data, [...value.shape], 'bool');
  }
  throw new Error(`${what}: unsupported dtype ${String(value.dtype)}`);
}

export function graphDType(t: tf.Tensor, what: string): DType {
  if (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool') return t.dtype;
  throw new Error(`${what}: tfjs dtype ${t.dtype} has no graph dtype`);
}

/** Downloads a tf tensor into host memory (the tensor is left alone; the caller disposes it). */
export async function fromTensor(t: tf.Tensor, what: string): Promise<TensorData> {
  const dtype = graphDType(t, what);
  const values = await t.data();
  const shape = [...t.shape];
  switch (dtype) {
    case 'float32':
      return { dtype, shape, data: values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>) };
    case 'int32':
      return { dtype, shape, data: values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>) };
    case 'bool':
      return { dtype, shape, data: values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>) };
  }
}
