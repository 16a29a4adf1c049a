/**
 * Reading and making ONNX initializers for the quantiser: float32 values out of a TensorProto
 * (raw_data or float_data, as other writers use either), and int8/uint8/int32/float32 tensors in.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';
import { ExportError } from '../errors.js';

/** `onnx-proto` is CommonJS: under ESM only its default import works at run time. */
export const onnx = onnxProto.onnx;
export type ModelProto = OnnxNamespace.IModelProto;
export type GraphProto = OnnxNamespace.IGraphProto;
export type NodeProto = OnnxNamespace.INodeProto;
export type TensorProto = OnnxNamespace.ITensorProto;
export type AttributeProto = OnnxNamespace.IAttributeProto;

/** ONNX TensorProto.DataType codes used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

/** An int64 field as decoded by protobufjs: a number, or a Long when the long package is present. */
export function int64(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map(int64);
}

/** The values of a float32 initializer; any other type is an error naming it. */
export function floatValues(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new ExportError(`initializer "${t.name}" is data type ${t.dataType}, expected float32`);
  const count = dimsOf(t).reduce((a, b) => a * b, 1);
  if (t.rawData && t.rawData.byteLength > 0) {
    const raw = t.rawData;
    if (raw.byteLength !== count * 4) throw new ExportError(`initializer "${t.name}": ${raw.byteLength} bytes for ${count} float32 values`);
    // copy into a fresh buffer: raw_data may be a Buffer view at an unaligned offset of the whole
    // decoded file (and Buffer#slice does not copy)
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Float32Array(copy.buffer, 0, count);
  }
  const f = t.floatData ?? [];
  if (f.length !== count) throw new ExportError(`initializer "${t.name}": ${f.length} float_data values for ${count} elements`);
  return Float32Array.from(f);
}

export function makeTensor(
  name: string,
  dataType: number,
  dims: readonly number[],
  data: Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array,
): TensorProto {
  const rawData = new Uint8Array(data.byteLength);
  rawData.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dataType, dims: [...dims], rawData };
}

export function intAttr(n: NodeProto, name: string, fallback: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.i === undefined || a.i === null ? fallback : int64(a.i);
}

export function floatAttr(n: NodeProto, name: string, fallback: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.f === undefined || a.f === null ? fallback : a.f;
}

export function intsAttr(n: NodeProto, name: string): number[] | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.ints ? a.ints.map(int64) : undefined;
}

/** An INT attribute proto (AttributeType.INT = 2). */
export function intAttribute(name: string, value: number): AttributeProto {
  return { name, type: 2, i: value };
}
