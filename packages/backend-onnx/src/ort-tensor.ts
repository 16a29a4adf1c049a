/**
 * TensorData <-> ort.Tensor without copying the data: ORT wraps the typed array's memory for
 * inputs, and its outputs arrive as fresh typed arrays that TensorData can hold as they are.
 */
import type { DType, TensorData } from '@unias/graph';
import type { Tensor as OrtTensor } from 'onnxruntime-node';

export type OrtModule = typeof import('onnxruntime-node');

/** Wraps a TensorData as an ort.Tensor (same memory). `what` names it in errors. */
export function toOrtTensor(ort: OrtModule, t: TensorData, what: string): OrtTensor {
  const dims = [...t.shape];
  const n = dims.reduce((p, d) => p * d, 1);
  if (t.data.length !== n) throw new Error(`${what}: ${t.data.length} values do not fill shape [${dims.join(',')}]`);
  const d = t.data;
  if (t.dtype === 'float32' && d instanceof Float32Array) return new ort.Tensor('float32', d, dims);
  if (t.dtype === 'int32' && d instanceof Int32Array) return new ort.Tensor('int32', d, dims);
  if (t.dtype === 'bool' && d instanceof Uint8Array) return new ort.Tensor('bool', d, dims);
  throw new Error(`${what}: dtype ${t.dtype} does not match its data (${d.constructor.name})`);
}

export function ortDType(t: OrtTensor): DType {
  switch (t.type) {
    case 'float32':
      return 'float32';
    case 'int32':
      return 'int32';
    case 'bool':
      return 'bool';
    default:
      throw new Error(`ONNX Runtime returned a ${t.type} tensor; the graph only knows float32, int32 and bool`);
  }
}

/** An ort.Tensor as TensorData (same memory). */
export function fromOrtTensor(t: OrtTensor, what: string): TensorData {
  const dtype = ortDType(t);
  const shape = [...t.dims];
  const data = t.data;
  if (dtype === 'float32' && data instanceof Float32Array) return { dtype, shape, data };
  if (dtype === 'int32' && data instanceof Int32Array) return { dtype, shape, data };
  if (dtype === 'bool' && data instanceof Uint8Array) return { dtype, shape, data };
  throw new Error(`${what}: ONNX Runtime returned ${t.type} data as ${data.constructor.name}`);
}
