/**
 * Float-to-float rewrites done before quantising, so that weights reach Conv and MatMul as plain
 * initializers: onnxruntime would fold these itself, but only on float weights; once a weight sits
 * behind a DequantizeLinear it stays a run-time Transpose or a separate BatchNormalization.
 * These rewrites are exact up to float32 rounding.
 */
import { ExportError } from '../errors.js';
import { dimsOf, floatAttr, floatValues, int64, intsAttr, makeTensor, DT, type GraphProto, type NodeProto, type TensorProto } from './onnx-tensors.js';

/** The values of an int64 initializer (raw_data little-endian, or int64_data). */
function int64Values(t: TensorProto): number[] | undefined {
  if (t.dataType !== DT.INT64) return undefined;
  if (t.rawData && t.rawData.byteLength > 0) {
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  }
  return (t.int64Data ?? []).map(int64);
}

function initializerMap(g: GraphProto): Map<string, TensorProto> {
  return new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** How many nodes (and graph outputs) read each tensor. */
export function useCounts(g: GraphProto): Map<string, number> {
  const uses = new Map<string, number>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.output ?? []) uses.set(o.name ?? '', (uses.get(o.name ?? '') ?? 0) + 1);
  return uses;
}

/** A row-major N-d transpose of `data` with `dims` by `perm` (ONNX Transpose semantics). */
export function transposeValues(data: Float32Array, dims: readonly number[], perm: readonly number[]): { data: Float32Array; dims: number[] } {
  const rank = dims.length;
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * dims[i + 1]!;
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d]! * inStrides[perm[d]!]!;
    out[o] = data[src]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]! += 1;
      if (idx[d]! < outDims[d]!) break;
      idx[d] = 0;
    }
  }
  return { data: out, dims: outDims };
}

/** Replaces Transpose(float initializer) by a transposed initializer; returns how many were folded. */
export function foldTransposedInitializers(g: GraphProto): number {
  const inits = initializerMap(g);
  const kept: NodeProto[] = [];
  let folded = 0;
  for (const n of g.node ?? []) {
    const src = n.opType === 'Transpose' ? inits.get(n.input?.[0] ?? '') : undefined;
    if (!src || src.dataType !== DT.FLOAT) {
      kept.push(n);
      continue;
    }
    const dims = dimsOf(src);
    const perm = intsAttr(n, 'perm') ?? dims.map((_, i) => dims.length - 1 - i);
    const t = transposeValues(floatValues(src), dims, perm);
    const out = n.output![0]!;
    const made = makeTensor(out, DT.FLOAT, t.dims, t.data);
    g.initializer!.push(made);
    inits.set(out, made);
    folded++;
  }
  g.node = kept;
  dropUnusedInitializers(g);
  return folded;
}

/**
 * Replaces Slice(float initializer, constant starts/ends/axes, steps 1) by the sliced initializer
 * (the attention layers split one in_proj weight into q, k, v this way); returns how many.
 */
export function foldSlicedInitializers(g: GraphProto): number {
  const inits = initializerMap(g);
  const kept: NodeProto[] = [];
  let folded = 0;
  for (const n of g.node ?? []) {
    const ins = n.input ?? [];
    const src = n.opType === 'Slice' ? inits.get(ins[0] ?? '') : undefined;
    const consts = ins.slice(1).map((name) => (name === '' ? undefined : inits.get(name)));
    const [starts, ends, axesIn, steps] = consts.map((t) => (t ? int64Values(t) : undefined));
    if (!src || src.dataType !== DT.FLOAT || !starts || !ends || consts.some((t, i) => ins[i + 1] !== '' && !t) || (steps && steps.some((v) => v !== 1))) {
      kept.push(n);
      continue;
    }
    const dims = dimsOf(src);
    const rank = dims.length;
    const lo = dims.map(() => 0);
    const hi = [...dims];
    const axes = axesIn ?? starts.map((_, i) => i);
    axes.forEach((a0, i) => {
      const a = a0 < 0 ? a0 + rank : a0;
      const d = dims[a]!;
      const clamp = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
      lo[a] = clamp(starts[i]!);
      hi[a] = Math.max(lo[a]!, clamp(ends[i]!));
    });
    const outDims = dims.map((_, a) => hi[a]! - lo[a]!);
    const values = floatValues(src);
    const strides = new Array<number>(rank).fill(1);
    for (let a = rank - 2; a >= 0; a--) strides[a] = strides[a + 1]! * dims[a + 1]!;
    const out = new Float32Array(outDims.reduce((x, y) => x * y, 1));
    const idx = new Array<number>(rank).fill(0);
    for (let o = 0; o < out.length; o++) {
      let at = 0;
      for (let a = 0; a < rank; a++) at += (idx[a]! + lo[a]!) * strides[a]!;
      out[o] = values[at]!;
      for (let a = rank - 1; a >= 0; a--) {
        idx[a]! += 1;
        if (idx[a]! < outDims[a]!) break;
        idx[a] = 0;
      }
    }
    const made = makeTensor(n.output![0]!, DT.FLOAT, outDims, out);
    g.initializer!.push(made);
    inits.set(made.name!, made);
    folded++;
  }
  g.node = kept;
  dropUnusedInitializers(g);
  return folded;
}

/**
 * Conv (float initializer weight, optional bias) followed only by BatchNormalization (inference
 * mode, initializer statistics) becomes one Conv with scaled weights and a bias.
 */
export function foldBatchNorms(g: GraphProto): number {
  const inits = initializerMap(g);
  const uses = useCounts(g);
  const producer = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const removed = new Set<NodeProto>();
  let folded = 0;
  for (const bn of g.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || (bn.output?.length ?? 0) !== 1) continue;
    const x = bn.input![0]!;
    const conv = producer.get(x);
    if (!conv || conv.opType !== 'Conv' || uses.get(x) !== 1) continue;
    const w = inits.get(conv.input![1]!);
    const b = conv.input![2] ? inits.get(conv.input![2]) : undefined;
    const stats = bn.input!.slice(1, 5).map((name) => inits.get(name));
    if (!w || w.dataType !== DT.FLOAT || (conv.input![2] && !b) || stats.some((s) => !s || s.dataType !== DT.FLOAT)) continue;
    const [scale, shift, mean, variance] = stats.map((s) => floatValues(s!)) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = floatAttr(bn, 'epsilon', 1e-5);
    const wDims = dimsOf(w);
    const cout = wDims[0]!;
    if (scale.length !== cout) throw new ExportError(`BatchNormalization "${bn.name}" has ${scale.length} channels after Conv "${conv.name}" with ${cout}`);
    const wv = floatValues(w);
    const per = wv.length / cout;
    const newW = new Float32Array(wv.length);
    const newB = new Float32Array(cout);
    const bias = b ? floatValues(b) : new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const s = scale[c]! / Math.sqrt(variance[c]! + eps);
      for (let k = 0; k < per; k++) newW[c * per + k] = wv[c * per + k]! * s;
      newB[c] = (bias[c]! - mean[c]!) * s + shift[c]!;
    }
    const wName = `${conv.input![1]}/bn_folded`;
    const bName = `${conv.output![0]}/bn_folded_bias`;
    g.initializer!.push(makeTensor(wName, DT.FLOAT, wDims, newW), makeTensor(bName, DT.FLOAT, [cout], newB));
    conv.input = [conv.input![0]!, wName, bName];
    conv.output = [bn.output![0]!];
    removed.add(bn);
    folded++;
  }
  g.node = (g.node ?? []).filter((n) => !removed.has(n));
  dropUnusedInitializers(g);
  return folded;
}

export function dropUnusedInitializers(g: GraphProto): void {
  const uses = useCounts(g);
  g.initializer = (g.initializer ?? []).filter((t) => uses.has(t.name ?? ''));
}
