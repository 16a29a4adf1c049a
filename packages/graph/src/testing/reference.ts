/**
 * A naive float64 evaluator of every op: the independent truth that both backends, the gradient
 * rules (by finite differences) and the model blocks are checked against. Written for clarity, not
 * speed: plain loops over row-major indices, straight from each op's definition.
 */
import type { Graph, Node } from '../graph.js';
import { prune } from '../graph.js';
import type { OpAttrMap, OpName } from '../ops/attrs.js';
import { OP_SPECS, type OpSpec } from '../ops/infer.js';
import { broadcastShapes, resolveReshape } from '../shape.js';
import { sizeOf, stridesOf, type Shape, type TensorData } from '../tensor-data.js';
import { erf64 } from './erf64.js';

export interface RefTensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export type RefFeed = TensorData | RefTensor;

export interface ReferenceOptions {
  readonly params?: ReadonlyMap<string, RefFeed>;
  readonly outputs?: readonly string[];
}

export function toRef(t: RefFeed): RefTensor {
  return { shape: [...t.shape], data: t.data instanceof Float64Array ? t.data : Float64Array.from(t.data) };
}

function ref(shape: readonly number[], data?: Float64Array): RefTensor {
  return { shape: [...shape], data: data ?? new Float64Array(sizeOf(shape)) };
}

/** Multi-index of a flat row-major offset. */
function unravel(i: number, shape: Shape, out: number[]): void {
  for (let d = shape.length - 1; d >= 0; d--) {
    const s = shape[d]!;
    out[d] = i % s;
    i = Math.floor(i / s);
  }
}

/** Offset into a tensor of `inShape` broadcast to `outShape`, for the out multi-index `idx`. */
function broadcastOffset(idx: readonly number[], inShape: Shape, inStrides: readonly number[]): number {
  const shift = idx.length - inShape.length;
  let off = 0;
  for (let d = 0; d < inShape.length; d++) if (inShape[d] !== 1) off += idx[d + shift]! * inStrides[d]!;
  return off;
}

function mapN(outShape: Shape, inputs: readonly RefTensor[], fn: (...v: number[]) => number): RefTensor {
  const out = ref(outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  const strides = inputs.map((t) => stridesOf(t.shape));
  const vals = new Array<number>(inputs.length);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, outShape, idx);
    for (let k = 0; k < inputs.length; k++) vals[k] = inputs[k]!.data[broadcastOffset(idx, inputs[k]!.shape, strides[k]!)]!;
    out.data[i] = fn(...vals);
  }
  return out;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function reduce(x: RefTensor, attrs: OpAttrMap['reduceSum'], kind: 'sum' | 'mean' | 'max'): RefTensor {
  const keptShape = x.shape.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
  const acc = new Float64Array(sizeOf(keptShape)).fill(kind === 'max' ? -Infinity : 0);
  const idx = new Array<number>(x.shape.length).fill(0);
  const kStrides = stridesOf(keptShape);
  for (let i = 0; i < x.data.length; i++) {
    unravel(i, x.shape, idx);
    let o = 0;
    for (let d = 0; d < idx.length; d++) if (!attrs.axes.includes(d)) o += idx[d]! * kStrides[d]!;
    acc[o] = kind === 'max' ? Math.max(acc[o]!, x.data[i]!) : acc[o]! + x.data[i]!;
  }
  if (kind === 'mean') {
    const n = attrs.axes.reduce((p, a) => p * x.shape[a]!, 1);
    for (let i = 0; i < acc.length; i++) acc[i]! /= n;
  }
  const outShape = attrs.keepDims ? keptShape : x.shape.filter((_, i) => !attrs.axes.includes(i));
  return ref(outShape, acc);
}

function transpose(x: RefTensor, perm: readonly number[]): RefTensor {
  const outShape = perm.map((p) => x.shape[p]!);
  const inStrides = stridesOf(x.shape);
  const out = ref(outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, outShape, idx);
    let o = 0;
    for (let d = 0; d < perm.length; d++) o += idx[d]! * inStrides[perm[d]!]!;
    out.data[i] = x.data[o]!;
  }
  return out;
}

function concat(xs: readonly RefTensor[], axis: number, outShape: Shape): RefTensor {
  const out = ref(outShape);
  const outer = sizeOf(outShape.slice(0, axis));
  const inner = sizeOf(outShape.slice(axis + 1));
  let at = 0;
  for (const x of xs) {
    const chunk = x.shape[axis]! * inner;
    for (let o = 0; o < outer; o++) {
      out.data.set(x.data.subarray(o * chunk, (o + 1) * chunk), o * outShape[axis]! * inner + at);
    }
    at += chunk;
  }
  return out;
}

function slice(x: RefTensor, a: OpAttrMap['slice'], outShape: Shape): RefTensor {
  const start = x.shape.map(() => 0);
  const step = x.shape.map(() => 1);
  a.axes.forEach((ax, i) => {
    start[ax] = a.starts[i]!;
    step[ax] = a.steps[i]!;
  });
  const inStrides = stridesOf(x.shape);
  const out = ref(outShape);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, outShape, idx);
    let o = 0;
    for (let d = 0; d < idx.length; d++) o += (start[d]! + idx[d]! * step[d]!) * inStrides[d]!;
    out.data[i] = x.data[o]!;
  }
  return out;
}

function pad(x: RefTensor, a: OpAttrMap['pad'], outShape: Shape): RefTensor {
  const r = x.shape.length;
  const inStrides = stridesOf(x.shape);
  const out = ref(outShape);
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    unravel(i, outShape, idx);
    let o = 0;
    let inside = true;
    for (let d = 0; d < r; d++) {
      let s = idx[d]! - a.pads[d]!;
      const n = x.shape[d]!;
      if (s < 0 || s >= n) {
        if (a.mode === 'constant') {
          inside = false;
          break;
        }
        s = s < 0 ? -s : 2 * (n - 1) - s;
      }
      o += s * inStrides[d]!;
    }
    out.data[i] = inside ? x.data[o]! : a.value;
  }
  return out;
}

function matmul(a: RefTensor, b: RefTensor, outShape: Shape): RefTensor {
  const m = a.shape[a.shape.length - 2]!;
  const k = a.shape[a.shape.length - 1]!;
  const n = b.shape[b.shape.length - 1]!;
  const batchShape = outShape.slice(0, -2);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const aStr = stridesOf(aBatch);
  const bStr = stridesOf(bBatch);
  const out = ref(outShape);
  const idx = new Array<number>(batchShape.length).fill(0);
  const nb = sizeOf(batchShape);
  for (let bi = 0; bi < nb; bi++) {
    unravel(bi, batchShape, idx);
    const ao = broadcastOffset(idx, aBatch, aStr) * m * k;
    const bo = broadcastOffset(idx, bBatch, bStr) * k * n;
    const oo = bi * m * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a.data[ao + i * k + t]! * b.data[bo + t * n + j]!;
        out.data[oo + i * n + j] = s;
      }
  }
  return out;
}

function conv2d(x: RefTensor, w: RefTensor, bias: RefTensor | undefined, a: OpAttrMap['conv2d'], outShape: Shape): RefTensor {
  const [N, Ci, H, W] = x.shape as [number, number, number, number];
  const [Co, Cig, KH, KW] = w.shape as [number, number, number, number];
  const [, , OH, OW] = outShape as [number, number, number, number];
  const cog = Co / a.groups;
  const out = ref(outShape);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < Co; co++) {
      const g = Math.floor(co / cog);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias.data[co]! : 0;
          for (let c = 0; c < Cig; c++) {
            const ci = g * Cig + c;
            for (let kh = 0; kh < KH; kh++) {
              const ih = oh * a.strides[0] - a.pads[0] + kh * a.dilations[0];
              if (ih < 0 || ih >= H) continue;
              for (let kw = 0; kw < KW; kw++) {
                const iw = ow * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (iw < 0 || iw >= W) continue;
                s += x.data[((n * Ci + ci) * H + ih) * W + iw]! * w.data[((co * Cig + c) * KH + kh) * KW + kw]!;
              }
            }
          }
          out.data[((n * Co + co) * OH + oh) * OW + ow] = s;
        }
    }
  return out;
}

function convTranspose2d(x: RefTensor, w: RefTensor, bias: RefTensor | undefined, a: OpAttrMap['convTranspose2d'], outShape: Shape): RefTensor {
  const [N, Ci, H, W] = x.shape as [number, number, number, number];
  const [, Cog, KH, KW] = w.shape as [number, number, number, number];
  const [, Co, OH, OW] = outShape as [number, number, number, number];
  const cig = Ci / a.groups;
  const out = ref(outShape);
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < Ci; ci++) {
      const g = Math.floor(ci / cig);
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const v = x.data[((n * Ci + ci) * H + ih) * W + iw]!;
          for (let c = 0; c < Cog; c++) {
            const co = g * Cog + c;
            for (let kh = 0; kh < KH; kh++) {
              const oh = ih * a.strides[0] - a.pads[0] + kh * a.dilations[0];
              if (oh < 0 || oh >= OH) continue;
              for (let kw = 0; kw < KW; kw++) {
                const ow = iw * a.strides[1] - a.pads[1] + kw * a.dilations[1];
                if (ow < 0 || ow >= OW) continue;
                out.data[((n * Co + co) * OH + oh) * OW + ow]! += v * w.data[((ci * Cog + c) * KH + kh) * KW + kw]!;
              }
            }
          }
        }
    }
  if (bias) {
    const plane = OH * OW;
    for (let n = 0; n < N; n++) for (let co = 0; co < Co; co++) for (let p = 0; p < plane; p++) out.data[(n * Co + co) * plane + p]! += bias.data[co]!;
  }
  return out;
}

function pool(x: RefTensor, a: OpAttrMap['avgPool2d'] | OpAttrMap['maxPool2d'], outShape: Shape, kind: 'avg' | 'max'): RefTensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, , OH, OW] = outShape as [number, number, number, number];
  const includePad = 'countIncludePad' in a ? a.countIncludePad : false;
  const out = ref(outShape);
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        let acc = kind === 'max' ? -Infinity : 0;
        let count = 0;
        for (let kh = 0; kh < a.kernel[0]; kh++) {
          const ih = oh * a.strides[0] - a.pads[0] + kh;
          for (let kw = 0; kw < a.kernel[1]; kw++) {
            const iw = ow * a.strides[1] - a.pads[1] + kw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const v = x.data[(nc * H + ih) * W + iw]!;
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            count++;
          }
        }
        out.data[(nc * OH + oh) * OW + ow] = kind === 'max' ? acc : acc / (includePad ? a.kernel[0] * a.kernel[1] : count);
      }
  return out;
}

/**
 * PyTorch's bilinear source index for one output position: align_corners maps the corner pixels
 * onto each other; otherwise half-pixel centres with the source clamped at 0.
 */
export function bilinearSource(dst: number, inSize: number, outSize: number, alignCorners: boolean): { i0: number; i1: number; t: number } {
  let src: number;
  if (alignCorners) src = outSize > 1 ? (dst * (inSize - 1)) / (outSize - 1) : 0;
  else src = Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0);
  const i0 = Math.min(Math.floor(src), inSize - 1);
  const i1 = Math.min(i0 + 1, inSize - 1);
  return { i0, i1, t: src - i0 };
}

function resizeBilinear(x: RefTensor, a: OpAttrMap['resizeBilinear'], outShape: Shape): RefTensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [OH, OW] = a.size;
  const out = ref(outShape);
  const rows = Array.from({ length: OH }, (_, i) => bilinearSource(i, H, OH, a.alignCorners));
  const cols = Array.from({ length: OW }, (_, i) => bilinearSource(i, W, OW, a.alignCorners));
  for (let nc = 0; nc < N * C; nc++)
    for (let oh = 0; oh < OH; oh++) {
      const r = rows[oh]!;
      for (let ow = 0; ow < OW; ow++) {
        const c = cols[ow]!;
        const at = (h: number, w: number) => x.data[(nc * H + h) * W + w]!;
        const top = at(r.i0, c.i0) * (1 - c.t) + at(r.i0, c.i1) * c.t;
        const bottom = at(r.i1, c.i0) * (1 - c.t) + at(r.i1, c.i1) * c.t;
        out.data[(nc * OH + oh) * OW + ow] = top * (1 - r.t) + bottom * r.t;
      }
    }
  return out;
}

/** Applies fn to each 1-D fibre along `axis` (in place on a copy). */
function alongAxis(x: RefTensor, axis: number, fn: (fibre: Float64Array) => void): RefTensor {
  const out = ref(x.shape, Float64Array.from(x.data));
  const n = x.shape[axis]!;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outer = sizeOf(x.shape.slice(0, axis));
  const fibre = new Float64Array(n);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      for (let k = 0; k < n; k++) fibre[k] = out.data[(o * n + k) * inner + i]!;
      fn(fibre);
      for (let k = 0; k < n; k++) out.data[(o * n + k) * inner + i] = fibre[k]!;
    }
  return out;
}

function softmax(x: RefTensor, axis: number): RefTensor {
  return alongAxis(x, axis, (f) => {
    const m = Math.max(...f);
    let s = 0;
    for (let k = 0; k < f.length; k++) {
      f[k] = Math.exp(f[k]! - m);
      s += f[k]!;
    }
    for (let k = 0; k < f.length; k++) f[k]! /= s;
  });
}

/** Normalises consecutive blocks of `block` values to zero mean, unit (biased) variance. */
function normaliseBlocks(data: Float64Array, block: number, eps: number): Float64Array {
  const out = new Float64Array(data.length);
  for (let b = 0; b < data.length / block; b++) {
    let mean = 0;
    for (let i = 0; i < block; i++) mean += data[b * block + i]!;
    mean /= block;
    let v = 0;
    for (let i = 0; i < block; i++) v += (data[b * block + i]! - mean) ** 2;
    v /= block;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < block; i++) out[b * block + i] = (data[b * block + i]! - mean) * inv;
  }
  return out;
}

function layerNorm(x: RefTensor, g: RefTensor, b: RefTensor, eps: number): RefTensor {
  const c = x.shape[x.shape.length - 1]!;
  const y = normaliseBlocks(x.data, c, eps);
  for (let i = 0; i < y.length; i++) y[i] = y[i]! * g.data[i % c]! + b.data[i % c]!;
  return ref(x.shape, y);
}

function groupNorm(x: RefTensor, g: RefTensor, b: RefTensor, a: OpAttrMap['groupNorm']): RefTensor {
  const c = x.shape[1]!;
  const spatial = sizeOf(x.shape.slice(2));
  const y = normaliseBlocks(x.data, (c / a.groups) * spatial, a.eps);
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / spatial) % c;
    y[i] = y[i]! * g.data[ch]! + b.data[ch]!;
  }
  return ref(x.shape, y);
}

function batchNorm(x: RefTensor, scale: RefTensor, bias: RefTensor, mean: RefTensor, variance: RefTensor, eps: number): RefTensor {
  const c = x.shape[1]!;
  const spatial = sizeOf(x.shape.slice(2));
  const y = new Float64Array(x.data.length);
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / spatial) % c;
    y[i] = ((x.data[i]! - mean.data[ch]!) / Math.sqrt(variance.data[ch]! + eps)) * scale.data[ch]! + bias.data[ch]!;
  }
  return ref(x.shape, y);
}

function cosine(a: RefTensor, b: RefTensor, attrs: OpAttrMap['cosineSimilarity']): RefTensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const ab = mapN(shape, [a, b], (p, q) => p * q);
  const aa = mapN(shape, [a], (p) => p * p);
  const bb = mapN(shape, [b], (q) => q * q);
  const r = { axes: [attrs.axis], keepDims: false };
  const dot = reduce(ab, r, 'sum');
  const na = reduce(aa, r, 'sum');
  const nb = reduce(bb, r, 'sum');
  return mapN(dot.shape, [dot, na, nb], (d, p, q) => d / Math.max(Math.sqrt(p) * Math.sqrt(q), attrs.eps));
}

function cast(x: RefTensor, to: OpAttrMap['cast']['to']): RefTensor {
  const fn = to === 'bool' ? (v: number) => (v !== 0 ? 1 : 0) : to === 'int32' ? Math.trunc : (v: number) => v;
  return ref(x.shape, x.data.map(fn));
}

type Rule<K extends OpName> = (args: RefTensor[], attrs: OpAttrMap[K], outShape: readonly number[]) => RefTensor;

const unaryRule =
  (fn: (v: number) => number): Rule<OpName> =>
  (args) =>
    ref(args[0]!.shape, args[0]!.data.map(fn));
const binaryRule =
  (fn: (a: number, b: number) => number): Rule<OpName> =>
  (args, _attrs, outShape) =>
    mapN(outShape, args, fn);

/**
 * One rule per op, as a mapped type over the op set: an op added to `OpAttrMap` without a rule
 * here fails to compile (a switch with a default would only fail at run time).
 */
const RULES: { readonly [K in OpName]: Rule<K> } = {
  neg: unaryRule((v) => -v),
  abs: unaryRule(Math.abs),
  sign: unaryRule((v) => (v > 0 ? 1 : v < 0 ? -1 : 0)),
  exp: unaryRule(Math.exp),
  log: unaryRule(Math.log),
  sqrt: unaryRule(Math.sqrt),
  relu: unaryRule((v) => (v > 0 ? v : 0)),
  sigmoid: unaryRule(sigmoid),
  tanh: unaryRule(Math.tanh),
  erf: unaryRule(erf64),
  gelu: unaryRule((v) => 0.5 * v * (1 + erf64(v / Math.SQRT2))),
  silu: unaryRule((v) => v * sigmoid(v)),
  clip: ([x], { min, max }) =>
    ref(
      x!.shape,
      x!.data.map((v) => Math.min(Math.max(v, min), max)),
    ),
  cast: ([x], { to }) => cast(x!, to),
  add: binaryRule((a, b) => a + b),
  sub: binaryRule((a, b) => a - b),
  mul: binaryRule((a, b) => a * b),
  div: binaryRule((a, b) => a / b),
  pow: binaryRule((a, b) => a ** b),
  maximum: binaryRule(Math.max),
  minimum: binaryRule(Math.min),
  greater: binaryRule((a, b) => (a > b ? 1 : 0)),
  less: binaryRule((a, b) => (a < b ? 1 : 0)),
  equal: binaryRule((a, b) => (a === b ? 1 : 0)),
  where: (args, _a, outShape) => mapN(outShape, args, (c, a, b) => (c ? a : b)),
  reduceSum: ([x], attrs) => reduce(x!, attrs, 'sum'),
  reduceMean: ([x], attrs) => reduce(x!, attrs, 'mean'),
  reduceMax: ([x], attrs) => reduce(x!, attrs, 'max'),
  reshape: ([x], attrs) => ref(resolveReshape(x!.shape, attrs.shape), x!.data),
  transpose: ([x], attrs) => transpose(x!, attrs.perm),
  concat: (args, attrs, outShape) => concat(args, attrs.axis, outShape),
  slice: ([x], attrs, outShape) => slice(x!, attrs, outShape),
  pad: ([x], attrs, outShape) => pad(x!, attrs, outShape),
  broadcastTo: ([x], _a, outShape) => mapN(outShape, [x!], (v) => v),
  matmul: ([x, w], _a, outShape) => matmul(x!, w!, outShape),
  conv2d: ([x, w, b], attrs, outShape) => conv2d(x!, w!, b, attrs, outShape),
  convTranspose2d: ([x, w, b], attrs, outShape) => convTranspose2d(x!, w!, b, attrs, outShape),
  avgPool2d: ([x], attrs, outShape) => pool(x!, attrs, outShape, 'avg'),
  maxPool2d: ([x], attrs, outShape) => pool(x!, attrs, outShape, 'max'),
  resizeBilinear: ([x], attrs, outShape) => resizeBilinear(x!, attrs, outShape),
  softmax: ([x], attrs) => softmax(x!, attrs.axis),
  layerNorm: ([x, g, b], attrs) => layerNorm(x!, g!, b!, attrs.eps),
  groupNorm: ([x, g, b], attrs) => groupNorm(x!, g!, b!, attrs),
  batchNorm: ([x, scale, bias, mean, variance], attrs) => batchNorm(x!, scale!, bias!, mean!, variance!, attrs.eps),
  cosineSimilarity: ([a, b], attrs) => cosine(a!, b!, attrs),
};

function evalOp(node: Extract<Node, { kind: 'op' }>, args: RefTensor[]): RefTensor {
  // Output shapes from the actual arguments, so a graph runs at another batch size.
  const spec = OP_SPECS[node.op] as OpSpec<typeof node.op>;
  const outShape = spec.infer(
    args.map((a, i) => ({ shape: a.shape, dtype: node.inputs[i]!.dtype })),
    node.attrs,
  ).shape;
  const rule = RULES[node.op] as Rule<typeof node.op>;
  return rule(args, node.attrs as never, outShape);
}

/**
 * Evaluates a graph in float64. Inputs come from `feeds`, params from `options.params` (or feeds).
 * Shapes follow the actual feeds (reshape 0/-1 resolve at run time), so a graph built at one batch
 * size can be evaluated at another.
 */
export function evaluateReference(graph: Graph, feeds: Readonly<Record<string, RefFeed>>, options: ReferenceOptions = {}): Record<string, RefTensor> {
  const g = prune(graph, options.outputs);
  const values = new Map<number, RefTensor>();
  for (const n of g.nodes) {
    switch (n.kind) {
      case 'input': {
        const f = feeds[n.name];
        if (!f) throw new Error(`reference: no feed for input "${n.name}"`);
        values.set(n.id, toRef(f));
        break;
      }
      case 'param': {
        const f = options.params?.get(n.name) ?? feeds[n.name];
        if (!f) throw new Error(`reference: no value for param "${n.name}"`);
        values.set(n.id, toRef(f));
        break;
      }
      case 'const':
        values.set(n.id, ref(n.shape, Float64Array.from(n.data)));
        break;
      case 'op':
        values.set(
          n.id,
          evalOp(
            n,
            n.inputs.map((i) => values.get(i.id)!),
          ),
        );
        break;
    }
  }
  const out: Record<string, RefTensor> = {};
  for (const [name, n] of g.outputs) out[name] = values.get(n.id)!;
  return out;
}
