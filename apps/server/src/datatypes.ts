/**
 * Open Inference Protocol tensor datatypes and their onnxruntime counterparts.
 */
import type { Tensor } from 'onnxruntime-node';

export type V2Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type NumericArray =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

interface DatatypeInfo {
  readonly v2: V2Datatype;
  readonly ort: Tensor.Type;
  readonly bytes: number;
  readonly make: (length: number) => NumericArray;
  /** How a JSON element becomes a stored value; returns undefined when the element is unfit. */
  readonly kind: 'float' | 'int' | 'bigint' | 'bool';
}

const TABLE: readonly DatatypeInfo[] = [
  { v2: 'FP32', ort: 'float32', bytes: 4, make: (n) => new Float32Array(n), kind: 'float' },
  { v2: 'FP64', ort: 'float64', bytes: 8, make: (n) => new Float64Array(n), kind: 'float' },
  { v2: 'INT8', ort: 'int8', bytes: 1, make: (n) => new Int8Array(n), kind: 'int' },
  { v2: 'INT16', ort: 'int16', bytes: 2, make: (n) => new Int16Array(n), kind: 'int' },
  { v2: 'INT32', ort: 'int32', bytes: 4, make: (n) => new Int32Array(n), kind: 'int' },
  { v2: 'INT64', ort: 'int64', bytes: 8, make: (n) => new BigInt64Array(n), kind: 'bigint' },
  { v2: 'UINT8', ort: 'uint8', bytes: 1, make: (n) => new Uint8Array(n), kind: 'int' },
  { v2: 'UINT16', ort: 'uint16', bytes: 2, make: (n) => new Uint16Array(n), kind: 'int' },
  { v2: 'UINT32', ort: 'uint32', bytes: 4, make: (n) => new Uint32Array(n), kind: 'int' },
  { v2: 'UINT64', ort: 'uint64', bytes: 8, make: (n) => new BigUint64Array(n), kind: 'bigint' },
  { v2: 'BOOL', ort: 'bool', bytes: 1, make: (n) => new Uint8Array(n), kind: 'bool' },
];

const BY_V2 = new Map<string, DatatypeInfo>(TABLE.map((d) => [d.v2, d]));
const BY_ORT = new Map<string, DatatypeInfo>(TABLE.map((d) => [d.ort, d]));

export const KNOWN_V2_DATATYPES: readonly string[] = [...TABLE.map((d) => d.v2), 'FP16', 'BYTES'];

export function datatypeInfo(v2: string): DatatypeInfo | undefined {
  return BY_V2.get(v2);
}

/** The v2 name of an onnxruntime tensor type, or undefined for types this server does not carry. */
export function v2DatatypeOf(ort: Tensor.Type): V2Datatype | undefined {
  if (ort === 'float16') return 'FP16';
  if (ort === 'string') return 'BYTES';
  return BY_ORT.get(ort)?.v2;
}

export type { DatatypeInfo };

/** A zeroed array of the same element type as `like`. */
export function allocateLike(like: NumericArray, length: number): NumericArray {
  const Ctor = like.constructor as new (length: number) => NumericArray;
  return new Ctor(length);
}
