/**
 * Accumulates an ONNX graph: nodes, initializers and unique value names. Knows nothing about
 * @unias/graph; the lowering drives it.
 */
import type { DType } from '@unias/graph';
import { DataType, onnx, type AttributeProto, type DataTypeCode, type NodeProto, type TensorProto } from './proto.js';

export type AttrValue =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string };

/** Attribute constructors: `{ axis: attr.int(1), epsilon: attr.float(1e-5) }`. */
export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
};

export type Attrs = Readonly<Record<string, AttrValue>>;

export function dataTypeOf(dtype: DType): DataTypeCode {
  switch (dtype) {
    case 'float32':
      return DataType.FLOAT;
    case 'int32':
      return DataType.INT32;
    case 'bool':
      return DataType.BOOL;
  }
}

function toAttributeProto(name: string, a: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

/** Little-endian bytes of a typed array, without copying (ONNX raw_data is little-endian). */
function bytesOf(data: Float32Array | Int32Array | Uint8Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@unias/backend-onnx writes ONNX raw_data from typed arrays and needs a little-endian host');
}

export class OnnxGraphWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, string>();

  /** Claims a name exactly (graph inputs, initializers, outputs); throws if taken. */
  claim(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX value name "${name}" is used twice`);
    this.names.add(name);
    return name;
  }

  isTaken(name: string): boolean {
    return this.names.has(name);
  }

  /** A new unique name starting with `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}#${k}`;
    this.names.add(name);
    return name;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Attrs = {}, name?: string, domain?: string): void {
    this.nodes.push({
      opType,
      ...(domain ? { domain } : {}),
      input: [...inputs],
      output: [...outputs],
      ...(name ? { name } : {}),
      attribute: Object.entries(attrs).map(([k, v]) => toAttributeProto(k, v)),
    });
  }

  initializer(name: string, dataType: DataTypeCode, dims: readonly number[], data: Float32Array | Int32Array | Uint8Array | BigInt64Array): void {
    this.initializers.push({ name, dataType, dims: [...dims], rawData: bytesOf(data) });
  }

  /** An int64 initializer of the given values (shared between uses of equal content). */
  int64(values: readonly number[], shape: readonly number[] = [values.length]): string {
    return this.cached(`i64:${shape.join(',')}:${values.join(',')}`, 'const_i64', (name) => {
      this.initializer(
        name,
        DataType.INT64,
        shape,
        BigInt64Array.from(values, (v) => BigInt(v)),
      );
    });
  }

  /** A scalar initializer of the given dtype (shared). */
  scalar(value: number, dtype: DType = 'float32'): string {
    const key = Object.is(value, -0) ? '-0' : String(value);
    return this.cached(`s:${dtype}:${key}`, `const_${dtype}`, (name) => {
      this.initializer(name, dataTypeOf(dtype), [], typedArray(dtype, [value]));
    });
  }

  /** A float32 initializer of one repeated value (shared). */
  filled(value: number, shape: readonly number[]): string {
    return this.cached(`f:${shape.join(',')}:${value}`, 'const_fill', (name) => {
      this.initializer(name, DataType.FLOAT, shape, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(value));
    });
  }

  /** A float32 initializer (not shared: for large tables built by a lowering). */
  float32(data: Float32Array, shape: readonly number[], base: string): string {
    const name = this.fresh(base);
    this.initializer(name, DataType.FLOAT, shape, data);
    return name;
  }

  private cached(key: string, base: string, make: (name: string) => void): string {
    let name = this.constCache.get(key);
    if (name === undefined) {
      name = this.fresh(base);
      make(name);
      this.constCache.set(key, name);
    }
    return name;
  }
}

export function typedArray(dtype: DType, values: ArrayLike<number>): Float32Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
  }
}
