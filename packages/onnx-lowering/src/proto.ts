/**
 * The ONNX protobuf classes. `onnx-proto` is CommonJS: under ESM only its default import works
 * at run time (the named import type-checks but is undefined), so the namespace is taken from it here once.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';

export const onnx = onnxProto.onnx;

export type ModelProto = OnnxNamespace.IModelProto;
export type NodeProto = OnnxNamespace.INodeProto;
export type TensorProto = OnnxNamespace.ITensorProto;
export type ValueInfoProto = OnnxNamespace.IValueInfoProto;
export type AttributeProto = OnnxNamespace.IAttributeProto;

/** ONNX TensorProto.DataType codes used here. */
export const DataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
} as const;

export type DataTypeCode = (typeof DataType)[keyof typeof DataType];
