/**
 * What a lowering rule sees: the ONNX value names of its node's inputs, a way to emit ONNX nodes
 * (named after the op's scope and id, so Netron shows where each came from) and shared constants.
 */
import type { DType, Node, OpName, OpNode } from '@unias/graph';
import type { Attrs } from './onnx-writer.js';

export interface LoweringContext {
  /** The ONNX value name of input `i` of the node being lowered. */
  input(i: number): string;
  /** Emits an intermediate ONNX node; returns its output name. */
  emit(opType: string, inputs: readonly string[], attrs?: Attrs): string;
  /** Emits the node's final ONNX node (writing straight to the graph output name when it is one). */
  result(opType: string, inputs: readonly string[], attrs?: Attrs): string;
  /** A shared int64 initializer (shape, axes, pads arguments). */
  int64(values: readonly number[], shape?: readonly number[]): string;
  /** A shared scalar initializer. */
  scalar(value: number, dtype?: DType): string;
  /** A shared float32 initializer filled with one value. */
  filled(value: number, shape: readonly number[]): string;
  /** A float32 initializer built by the lowering (interpolation matrices). */
  float32(data: Float32Array, shape: readonly number[], hint: string): string;
  /** Whether dim 0 of inputs and outputs is symbolic. */
  readonly dynamicBatch: boolean;
  /** The batch axis of a node (null: none, or `dynamicBatch` is off). */
  batchAxis(node: Node): number | null;
  /** An int64 [1] tensor holding the run-time batch size N (only with `dynamicBatch`). */
  batchSize(): string;
  /** onnxruntime's NCHWc channel block when blocked convolutions were asked for (blocked-conv.ts), else undefined. */
  readonly nchwcBlock: number | undefined;
  /** Whether a node's value is fixed when the model is written (a const, or a param bound as an initializer). */
  isConstant(node: Node): boolean;
  /** Emits a node of another domain than ONNX's own (declared in the model's opset imports). */
  emitIn(domain: string, opType: string, inputs: readonly string[], attrs?: Attrs): string;
  /** `result` for a node of another domain. */
  resultIn(domain: string, opType: string, inputs: readonly string[], attrs?: Attrs): string;
}

/** One rule per op: a missing op in the table fails to compile. */
export type Lowering<K extends OpName> = (ctx: LoweringContext, node: OpNode<K>) => string;
