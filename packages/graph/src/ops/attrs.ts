/**
 * The op set: one attribute type per op. `OpAttrMap` is the typed seam every backend, the
 * reference evaluator and the gradient rules are checked against at compile time: a backend that
 * misses an op, or reads an attribute an op does not have, fails to compile.
 */
import type { DType } from '../tensor-data.js';

export type Pair = readonly [number, number];
/** Pads as [top, left, bottom, right] (ONNX order for 2-D: begins then ends). */
export type Pads2d = readonly [number, number, number, number];

export interface NoAttrs {}

export interface Conv2dAttrs {
  /** [sh, sw] */
  readonly strides: Pair;
  readonly pads: Pads2d;
  readonly dilations: Pair;
  readonly groups: number;
}

export interface ConvTranspose2dAttrs extends Conv2dAttrs {
  /** Extra rows/cols added at the bottom/right of the output (to reach an exact size). */
  readonly outputPadding: Pair;
}

export interface Pool2dAttrs {
  readonly kernel: Pair;
  readonly strides: Pair;
  readonly pads: Pads2d;
}

export interface AvgPool2dAttrs extends Pool2dAttrs {
  /** PyTorch count_include_pad. */
  readonly countIncludePad: boolean;
}

export interface ReduceAttrs {
  /** Normalised, sorted, non-empty. */
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}

export interface AxisAttrs {
  /** Normalised (non-negative). */
  readonly axis: number;
}

export interface ReshapeAttrs {
  /** Target with ONNX semantics: 0 copies the input dim (keeps graphs batch-generic), -1 is inferred. */
  readonly shape: readonly number[];
}

export interface TransposeAttrs {
  readonly perm: readonly number[];
}

export interface SliceAttrs {
  /** One entry per listed axis; in range, steps >= 1 (the builder normalises). */
  readonly axes: readonly number[];
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly steps: readonly number[];
}

export type PadMode = 'constant' | 'reflect';

export interface PadAttrs {
  /** ONNX layout: begins for every axis, then ends. Non-negative. */
  readonly pads: readonly number[];
  readonly mode: PadMode;
  readonly value: number;
}

export interface BroadcastToAttrs {
  readonly shape: readonly number[];
}

export interface ClipAttrs {
  readonly min: number;
  readonly max: number;
}

export interface CastAttrs {
  readonly to: DType;
}

export interface NormAttrs {
  readonly eps: number;
}

export interface GroupNormAttrs extends NormAttrs {
  readonly groups: number;
}

export interface ResizeAttrs {
  /** Output [height, width] of the last two axes. */
  readonly size: Pair;
  /** PyTorch align_corners; false means half-pixel centres, source clamped at 0. */
  readonly alignCorners: boolean;
}

export interface CosineAttrs extends AxisAttrs {
  /** cos = <x,y> / max(|x| |y|, eps) */
  readonly eps: number;
}

export interface OpAttrMap {
  // unary, elementwise
  neg: NoAttrs;
  abs: NoAttrs;
  sign: NoAttrs;
  exp: NoAttrs;
  log: NoAttrs;
  sqrt: NoAttrs;
  relu: NoAttrs;
  sigmoid: NoAttrs;
  tanh: NoAttrs;
  erf: NoAttrs;
  /** Exact GELU: x * Phi(x) (erf form). */
  gelu: NoAttrs;
  /** x * sigmoid(x) (swish). */
  silu: NoAttrs;
  clip: ClipAttrs;
  cast: CastAttrs;
  // binary, broadcasting
  add: NoAttrs;
  sub: NoAttrs;
  mul: NoAttrs;
  div: NoAttrs;
  pow: NoAttrs;
  maximum: NoAttrs;
  minimum: NoAttrs;
  greater: NoAttrs;
  less: NoAttrs;
  equal: NoAttrs;
  /** where(cond, a, b), broadcasting all three. */
  where: NoAttrs;
  // reductions
  reduceSum: ReduceAttrs;
  reduceMean: ReduceAttrs;
  reduceMax: ReduceAttrs;
  // layout
  reshape: ReshapeAttrs;
  transpose: TransposeAttrs;
  concat: AxisAttrs;
  slice: SliceAttrs;
  pad: PadAttrs;
  broadcastTo: BroadcastToAttrs;
  // linear algebra and convolution
  /** Numpy matmul: batch dims broadcast, rank >= 2. */
  matmul: NoAttrs;
  /** x [N,Ci,H,W], w [Co,Ci/g,kh,kw], optional bias [Co]. */
  conv2d: Conv2dAttrs;
  /** x [N,Ci,H,W], w [Ci,Co/g,kh,kw] (ONNX ConvTranspose), optional bias [Co]. */
  convTranspose2d: ConvTranspose2dAttrs;
  avgPool2d: AvgPool2dAttrs;
  maxPool2d: Pool2dAttrs;
  /** Bilinear resize of the last two axes of an NCHW tensor. */
  resizeBilinear: ResizeAttrs;
  // normalisation and friends
  softmax: AxisAttrs;
  /** Normalises over the last axis: inputs x, gamma [C], beta [C]. */
  layerNorm: NormAttrs;
  /** x [N,C,...], gamma [C], beta [C]. */
  groupNorm: GroupNormAttrs;
  /** Inference batch norm over axis 1: x, scale, bias, mean, var (each [C]). */
  batchNorm: NormAttrs;
  /** Cosine similarity along an axis (removed). */
  cosineSimilarity: CosineAttrs;
}

export type OpName = keyof OpAttrMap;
