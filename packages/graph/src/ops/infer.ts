/**
 * Shape and dtype inference, one rule per op. The builder calls these when a node is made, so a
 * misshaped model fails where it is built, naming the op and its scope.
 */
import { broadcastShapes, convOutSize, resolveReshape } from '../shape.js';
import { formatShape, type DType, type Shape } from '../tensor-data.js';
import type { OpAttrMap, OpName } from './attrs.js';

export interface ArgInfo {
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface OpSpec<K extends OpName> {
  /** Allowed number of inputs [min, max]. */
  readonly arity: readonly [number, number];
  infer(args: readonly ArgInfo[], attrs: OpAttrMap[K]): { shape: number[]; dtype: DType };
}

type SpecTable = { readonly [K in OpName]: OpSpec<K> };

function fail(msg: string): never {
  throw new Error(msg);
}

function requireFloat(args: readonly ArgInfo[], op: string): void {
  args.forEach((a, i) => {
    if (a.dtype !== 'float32') fail(`${op}: input ${i} must be float32, got ${a.dtype}`);
  });
}

function requireRank(a: ArgInfo, rank: number, op: string, what = 'input'): void {
  if (a.shape.length !== rank) fail(`${op}: ${what} must have rank ${rank}, got ${formatShape(a.shape)}`);
}

function unary<K extends OpName>(name: K): OpSpec<K> {
  return {
    arity: [1, 1],
    infer(args) {
      requireFloat(args, name);
      return { shape: [...args[0]!.shape], dtype: 'float32' };
    },
  };
}

function binaryFloat<K extends OpName>(name: K): OpSpec<K> {
  return {
    arity: [2, 2],
    infer(args) {
      requireFloat(args, name);
      return { shape: broadcastShapes(args[0]!.shape, args[1]!.shape, name), dtype: 'float32' };
    },
  };
}

function compare<K extends OpName>(name: K): OpSpec<K> {
  return {
    arity: [2, 2],
    infer(args) {
      if (args[0]!.dtype !== args[1]!.dtype) fail(`${name}: dtypes ${args[0]!.dtype} and ${args[1]!.dtype} differ`);
      return { shape: broadcastShapes(args[0]!.shape, args[1]!.shape, name), dtype: 'bool' };
    },
  };
}

function reduce<K extends 'reduceSum' | 'reduceMean' | 'reduceMax'>(name: K): OpSpec<K> {
  return {
    arity: [1, 1],
    infer(args, attrs) {
      requireFloat(args, name);
      const s = args[0]!.shape;
      if (attrs.axes.length === 0) fail(`${name}: no axes`);
      for (const a of attrs.axes) if (a < 0 || a >= s.length) fail(`${name}: axis ${a} out of range for ${formatShape(s)}`);
      const shape: number[] = [];
      s.forEach((d, i) => {
        if (attrs.axes.includes(i)) {
          if (attrs.keepDims) shape.push(1);
        } else shape.push(d);
      });
      return { shape, dtype: 'float32' };
    },
  };
}

function checkConvCommon(op: string, x: ArgInfo, w: ArgInfo, groups: number): void {
  requireRank(x, 4, op);
  requireRank(w, 4, op, 'weight');
  if (!Number.isInteger(groups) || groups < 1) fail(`${op}: groups must be a positive integer, got ${groups}`);
}

function pool<K extends 'avgPool2d' | 'maxPool2d'>(name: K): OpSpec<K> {
  return {
    arity: [1, 1],
    infer(args, a) {
      requireFloat(args, name);
      const x = args[0]!;
      requireRank(x, 4, name);
      const h = convOutSize(x.shape[2]!, a.kernel[0], a.strides[0], a.pads[0], a.pads[2]);
      const w = convOutSize(x.shape[3]!, a.kernel[1], a.strides[1], a.pads[1], a.pads[3]);
      if (h < 1 || w < 1) fail(`${name}: window ${a.kernel.join('x')} does not fit ${formatShape(x.shape)}`);
      if (a.pads[0] >= a.kernel[0] || a.pads[2] >= a.kernel[0] || a.pads[1] >= a.kernel[1] || a.pads[3] >= a.kernel[1]) {
        fail(`${name}: padding must be smaller than the window`);
      }
      return { shape: [x.shape[0]!, x.shape[1]!, h, w], dtype: 'float32' };
    },
  };
}

export const OP_SPECS: SpecTable = {
  neg: unary('neg'),
  abs: unary('abs'),
  sign: unary('sign'),
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  relu: unary('relu'),
  sigmoid: unary('sigmoid'),
  tanh: unary('tanh'),
  erf: unary('erf'),
  gelu: unary('gelu'),
  silu: unary('silu'),
  clip: {
    arity: [1, 1],
    infer(args, a) {
      requireFloat(args, 'clip');
      if (!(a.min <= a.max)) fail(`clip: min ${a.min} > max ${a.max}`);
      return { shape: [...args[0]!.shape], dtype: 'float32' };
    },
  },
  cast: {
    arity: [1, 1],
    infer(args, a) {
      return { shape: [...args[0]!.shape], dtype: a.to };
    },
  },
  add: binaryFloat('add'),
  sub: binaryFloat('sub'),
  mul: binaryFloat('mul'),
  div: binaryFloat('div'),
  pow: binaryFloat('pow'),
  maximum: binaryFloat('maximum'),
  minimum: binaryFloat('minimum'),
  greater: compare('greater'),
  less: compare('less'),
  equal: compare('equal'),
  where: {
    arity: [3, 3],
    infer(args) {
      const [c, a, b] = args as [ArgInfo, ArgInfo, ArgInfo];
      if (c.dtype !== 'bool') fail(`where: condition must be bool, got ${c.dtype}`);
      if (a.dtype !== b.dtype) fail(`where: branches differ in dtype (${a.dtype}, ${b.dtype})`);
      const s = broadcastShapes(broadcastShapes(c.shape, a.shape, 'where'), b.shape, 'where');
      return { shape: s, dtype: a.dtype };
    },
  },
  reduceSum: reduce('reduceSum'),
  reduceMean: reduce('reduceMean'),
  reduceMax: reduce('reduceMax'),
  reshape: {
    arity: [1, 1],
    infer(args, a) {
      return { shape: resolveReshape(args[0]!.shape, a.shape), dtype: args[0]!.dtype };
    },
  },
  transpose: {
    arity: [1, 1],
    infer(args, a) {
      const s = args[0]!.shape;
      const sorted = [...a.perm].sort((x, y) => x - y);
      if (a.perm.length !== s.length || sorted.some((p, i) => p !== i)) {
        fail(`transpose: perm [${a.perm.join(',')}] is not a permutation of rank ${s.length}`);
      }
      return { shape: a.perm.map((p) => s[p]!), dtype: args[0]!.dtype };
    },
  },
  concat: {
    arity: [1, Infinity],
    infer(args, a) {
      const first = args[0]!;
      const rank = first.shape.length;
      if (a.axis < 0 || a.axis >= rank) fail(`concat: axis ${a.axis} out of range for rank ${rank}`);
      const shape = [...first.shape];
      shape[a.axis] = 0;
      for (const [i, t] of args.entries()) {
        if (t.dtype !== first.dtype) fail(`concat: input ${i} is ${t.dtype}, input 0 is ${first.dtype}`);
        if (t.shape.length !== rank || t.shape.some((d, j) => j !== a.axis && d !== first.shape[j])) {
          fail(`concat: input ${i} ${formatShape(t.shape)} does not match ${formatShape(first.shape)} off axis ${a.axis}`);
        }
        shape[a.axis]! += t.shape[a.axis]!;
      }
      return { shape, dtype: first.dtype };
    },
  },
  slice: {
    arity: [1, 1],
    infer(args, a) {
      const s = [...args[0]!.shape];
      a.axes.forEach((ax, i) => {
        const start = a.starts[i]!;
        const end = a.ends[i]!;
        const step = a.steps[i]!;
        if (ax < 0 || ax >= s.length) fail(`slice: axis ${ax} out of range`);
        if (step < 1 || start < 0 || end > s[ax]! || start > end) {
          fail(`slice: [${start}:${end}:${step}] is not a normalised range of axis ${ax} (size ${s[ax]})`);
        }
        s[ax] = Math.max(0, Math.ceil((end - start) / step));
      });
      return { shape: s, dtype: args[0]!.dtype };
    },
  },
  pad: {
    arity: [1, 1],
    infer(args, a) {
      const s = args[0]!.shape;
      if (a.pads.length !== 2 * s.length) fail(`pad: ${a.pads.length} pads for rank ${s.length}`);
      if (a.pads.some((p) => p < 0 || !Number.isInteger(p))) fail('pad: pads must be non-negative integers');
      const out = s.map((d, i) => d + a.pads[i]! + a.pads[i + s.length]!);
      if (a.mode === 'reflect') {
        s.forEach((d, i) => {
          if (a.pads[i]! >= d || a.pads[i + s.length]! >= d) fail(`pad: reflect pad must be smaller than the dim (axis ${i}, size ${d})`);
        });
      }
      return { shape: out, dtype: args[0]!.dtype };
    },
  },
  broadcastTo: {
    arity: [1, 1],
    infer(args, a) {
      const s = broadcastShapes(args[0]!.shape, a.shape, 'broadcastTo');
      if (s.length !== a.shape.length || s.some((d, i) => d !== a.shape[i])) {
        fail(`broadcastTo: ${formatShape(args[0]!.shape)} does not broadcast to ${formatShape(a.shape)}`);
      }
      return { shape: s, dtype: args[0]!.dtype };
    },
  },
  matmul: {
    arity: [2, 2],
    infer(args) {
      requireFloat(args, 'matmul');
      const [a, b] = args as [ArgInfo, ArgInfo];
      if (a.shape.length < 2 || b.shape.length < 2) fail(`matmul: inputs must have rank >= 2, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
      const m = a.shape[a.shape.length - 2]!;
      const k = a.shape[a.shape.length - 1]!;
      const k2 = b.shape[b.shape.length - 2]!;
      const n = b.shape[b.shape.length - 1]!;
      if (k !== k2) fail(`matmul: inner dims differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul batch');
      return { shape: [...batch, m, n], dtype: 'float32' };
    },
  },
  conv2d: {
    arity: [2, 3],
    infer(args, a) {
      requireFloat(args, 'conv2d');
      const [x, w, b] = args as [ArgInfo, ArgInfo, ArgInfo | undefined];
      checkConvCommon('conv2d', x, w, a.groups);
      const [n, ci, h, wd] = x.shape as [number, number, number, number];
      const [co, cig, kh, kw] = w.shape as [number, number, number, number];
      if (ci % a.groups !== 0 || co % a.groups !== 0) fail(`conv2d: channels ${ci}->${co} not divisible by groups ${a.groups}`);
      if (cig * a.groups !== ci) fail(`conv2d: weight ${formatShape(w.shape)} expects ${cig * a.groups} input channels, input has ${ci}`);
      if (b && (b.shape.length !== 1 || b.shape[0] !== co)) fail(`conv2d: bias ${formatShape(b.shape)} must be [${co}]`);
      const oh = convOutSize(h, kh, a.strides[0], a.pads[0], a.pads[2], a.dilations[0]);
      const ow = convOutSize(wd, kw, a.strides[1], a.pads[1], a.pads[3], a.dilations[1]);
      if (oh < 1 || ow < 1) fail(`conv2d: kernel ${kh}x${kw} does not fit input ${formatShape(x.shape)}`);
      return { shape: [n, co, oh, ow], dtype: 'float32' };
    },
  },
  convTranspose2d: {
    arity: [2, 3],
    infer(args, a) {
      requireFloat(args, 'convTranspose2d');
      const [x, w, b] = args as [ArgInfo, ArgInfo, ArgInfo | undefined];
      checkConvCommon('convTranspose2d', x, w, a.groups);
      const [n, ci, h, wd] = x.shape as [number, number, number, number];
      const [wci, cog, kh, kw] = w.shape as [number, number, number, number];
      if (wci !== ci) fail(`convTranspose2d: weight ${formatShape(w.shape)} expects ${wci} input channels, input has ${ci}`);
      if (ci % a.groups !== 0) fail(`convTranspose2d: ${ci} channels not divisible by groups ${a.groups}`);
      const co = cog * a.groups;
      if (b && (b.shape.length !== 1 || b.shape[0] !== co)) fail(`convTranspose2d: bias ${formatShape(b.shape)} must be [${co}]`);
      const oh = (h - 1) * a.strides[0] - a.pads[0] - a.pads[2] + a.dilations[0] * (kh - 1) + a.outputPadding[0] + 1;
      const ow = (wd - 1) * a.strides[1] - a.pads[1] - a.pads[3] + a.dilations[1] * (kw - 1) + a.outputPadding[1] + 1;
      if (a.outputPadding[0] >= Math.max(a.strides[0], a.dilations[0]) || a.outputPadding[1] >= Math.max(a.strides[1], a.dilations[1])) {
        fail('convTranspose2d: outputPadding must be smaller than stride or dilation');
      }
      if (oh < 1 || ow < 1) fail('convTranspose2d: empty output');
      return { shape: [n, co, oh, ow], dtype: 'float32' };
    },
  },
  avgPool2d: pool('avgPool2d'),
  maxPool2d: pool('maxPool2d'),
  resizeBilinear: {
    arity: [1, 1],
    infer(args, a) {
      requireFloat(args, 'resizeBilinear');
      const x = args[0]!;
      requireRank(x, 4, 'resizeBilinear');
      if (a.size[0] < 1 || a.size[1] < 1) fail('resizeBilinear: empty output size');
      return { shape: [x.shape[0]!, x.shape[1]!, a.size[0], a.size[1]], dtype: 'float32' };
    },
  },
  softmax: {
    arity: [1, 1],
    infer(args, a) {
      requireFloat(args, 'softmax');
      if (a.axis < 0 || a.axis >= args[0]!.shape.length) fail(`softmax: axis ${a.axis} out of range`);
      return { shape: [...args[0]!.shape], dtype: 'float32' };
    },
  },
  layerNorm: {
    arity: [3, 3],
    infer(args) {
      requireFloat(args, 'layerNorm');
      const [x, g, b] = args as [ArgInfo, ArgInfo, ArgInfo];
      const c = x.shape[x.shape.length - 1];
      if (g.shape.length !== 1 || g.shape[0] !== c || b.shape.length !== 1 || b.shape[0] !== c) {
        fail(`layerNorm: gamma ${formatShape(g.shape)} and beta ${formatShape(b.shape)} must be [${c}]`);
      }
      return { shape: [...x.shape], dtype: 'float32' };
    },
  },
  groupNorm: {
    arity: [3, 3],
    infer(args, a) {
      requireFloat(args, 'groupNorm');
      const [x, g, b] = args as [ArgInfo, ArgInfo, ArgInfo];
      if (x.shape.length < 3) fail(`groupNorm: input must be [N,C,...], got ${formatShape(x.shape)}`);
      const c = x.shape[1]!;
      if (c % a.groups !== 0) fail(`groupNorm: ${c} channels not divisible by ${a.groups} groups`);
      if (g.shape.length !== 1 || g.shape[0] !== c || b.shape.length !== 1 || b.shape[0] !== c) {
        fail(`groupNorm: gamma ${formatShape(g.shape)} and beta ${formatShape(b.shape)} must be [${c}]`);
      }
      return { shape: [...x.shape], dtype: 'float32' };
    },
  },
  batchNorm: {
    arity: [5, 5],
    infer(args) {
      requireFloat(args, 'batchNorm');
      const x = args[0]!;
      if (x.shape.length < 2) fail(`batchNorm: input must be [N,C,...], got ${formatShape(x.shape)}`);
      const c = x.shape[1]!;
      args.slice(1).forEach((p, i) => {
        if (p.shape.length !== 1 || p.shape[0] !== c) fail(`batchNorm: ${['scale', 'bias', 'mean', 'var'][i]} ${formatShape(p.shape)} must be [${c}]`);
      });
      return { shape: [...x.shape], dtype: 'float32' };
    },
  },
  cosineSimilarity: {
    arity: [2, 2],
    infer(args, a) {
      requireFloat(args, 'cosineSimilarity');
      const s = broadcastShapes(args[0]!.shape, args[1]!.shape, 'cosineSimilarity');
      if (a.axis < 0 || a.axis >= s.length) fail(`cosineSimilarity: axis ${a.axis} out of range`);
      return { shape: s.filter((_, i) => i !== a.axis), dtype: 'float32' };
    },
  },
};

export const OP_NAMES = Object.keys(OP_SPECS) as OpName[];
