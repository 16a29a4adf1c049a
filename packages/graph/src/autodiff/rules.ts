/**
 * The gradient rule of every op, as one typed table: adding an op to `OpAttrMap` without a rule
 * here fails to compile. Rules build the backward graph from ordinary graph ops, so the same
 * backward runs on every backend (and exports to ONNX).
 */
import * as E from './rules-elementwise.js';
import * as L from './rules-layout.js';
import * as M from './rules-linear.js';
import * as N from './rules-norm.js';
import { noGradient, type GradRuleTable } from './rule-types.js';

export const GRAD_RULES: GradRuleTable = {
  neg: E.neg,
  abs: E.abs,
  // sign, comparisons and casts are piecewise constant: no gradient flows through them.
  sign: noGradient,
  exp: E.exp,
  log: E.log,
  sqrt: E.sqrt,
  relu: E.relu,
  sigmoid: E.sigmoid,
  tanh: E.tanh,
  erf: E.erf,
  gelu: E.gelu,
  silu: E.silu,
  clip: E.clip,
  cast: noGradient,
  add: E.add,
  sub: E.sub,
  mul: E.mul,
  div: E.div,
  pow: E.pow,
  maximum: E.maximum,
  minimum: E.minimum,
  greater: noGradient,
  less: noGradient,
  equal: noGradient,
  where: E.where,
  reduceSum: L.reduceSum,
  reduceMean: L.reduceMean,
  reduceMax: L.reduceMax,
  reshape: L.reshape,
  transpose: L.transpose,
  concat: L.concat,
  slice: L.slice,
  pad: L.pad,
  broadcastTo: L.broadcastTo,
  matmul: M.matmul,
  conv2d: M.conv2d,
  convTranspose2d: M.convTranspose2d,
  avgPool2d: M.avgPool2d,
  maxPool2d: M.maxPool2d,
  resizeBilinear: M.resizeBilinear,
  softmax: N.softmax,
  layerNorm: N.layerNorm,
  groupNorm: N.groupNorm,
  batchNorm: N.batchNorm,
  cosineSimilarity: N.cosineSimilarity,
};

/** Ops through which no gradient flows. */
export const NON_DIFFERENTIABLE_OPS = new Set<keyof GradRuleTable>(
  (Object.keys(GRAD_RULES) as Array<keyof GradRuleTable>).filter((op) => GRAD_RULES[op] === noGradient),
);
