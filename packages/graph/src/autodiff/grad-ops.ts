/**
 * The ops gradient rules are written in: a thin layer over the GraphBuilder that
 *  - reuses an existing node when the same op is asked for again on the same inputs (forward nodes
 *    included, so a rule that needs sigmoid(x) finds the forward one, and two rules that transpose
 *    the same weight share one Transpose);
 *  - folds the obvious identities (reshape to the same shape, transpose of a transpose, x * 1, ...)
 *    and scalar-constant arithmetic, so backward graphs carry no dead weight.
 */
import type { GraphBuilder } from '../builder.js';
import type { AnyOpNode, ConstNode, Node, Sym } from '../graph.js';
import type { ConvTranspose2dAttrs, Conv2dAttrs, OpAttrMap, OpName, PadMode } from '../ops/attrs.js';
import { broadcastShapes } from '../shape.js';
import { formatShape, shapesEqual, sizeOf, type DType, type Shape } from '../tensor-data.js';

export type SymOrNumber = Sym | number;

/** Attributes as a string that does not depend on key order. */
function stableKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${k}:${stableKey(v)}`).join(',')}}`;
  }
  return String(value);
}

/** The value of a single-element float constant, if the node is one. */
export function scalarValue(n: Node): number | undefined {
  return n.kind === 'const' && n.dtype === 'float32' && n.data.length === 1 ? n.data[0] : undefined;
}

const FOLD: Partial<Record<OpName, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};

export class GradOps {
  private readonly memo = new Map<string, Sym>();
  private readonly constMemo = new Map<string, ConstNode>();

  constructor(
    readonly b: GraphBuilder,
    existing: Iterable<Node> = [],
  ) {
    for (const n of existing) if (n.kind === 'op') this.memo.set(this.key(n.op, n.inputs, n.attrs), n);
  }

  private key(op: string, inputs: readonly Node[], attrs: unknown): string {
    return `${op}(${inputs.map((i) => i.id).join(',')})${stableKey(attrs)}`;
  }

  /** Any op, made once per (op, inputs, attrs). */
  op<K extends OpName>(op: K, inputs: readonly Sym[], attrs: OpAttrMap[K]): Sym {
    const k = this.key(op, inputs, attrs);
    const hit = this.memo.get(k);
    if (hit) return hit;
    // the builder's own widening of a freshly made OpNode<K> to the node union
    const node = this.b.op(op, inputs, attrs) as AnyOpNode;
    this.memo.set(k, node);
    return node;
  }

  /** The node already built for (op, inputs, attrs), forward or backward, if any; builds nothing. */
  existing<K extends OpName>(op: K, inputs: readonly Sym[], attrs: OpAttrMap[K]): Sym | undefined {
    return this.memo.get(this.key(op, inputs, attrs));
  }

  scalar(v: number): Sym {
    return this.b.scalar(v);
  }

  /** A constant built in JS (interpolation matrices, window masks), shared when asked for twice. */
  constant(data: ArrayLike<number>, shape: Shape): Sym {
    const small = data.length <= 1 << 14;
    const key = small ? `${formatShape(shape)}:${Array.from(data).join(',')}` : '';
    const hit = small ? this.constMemo.get(key) : undefined;
    if (hit) return hit;
    const node = this.b.constant(data, shape);
    if (small) this.constMemo.set(key, node);
    return node;
  }

  private sym(v: SymOrNumber): Sym {
    return typeof v === 'number' ? this.scalar(v) : v;
  }

  /** Zeros of a shape (a broadcast scalar, so no buffer of that size is stored in the graph). */
  zeros(shape: Shape): Sym {
    return this.broadcastTo(this.scalar(0), shape);
  }

  // ---- elementwise ---------------------------------------------------------------------------
  /**
   * An operand that is an explicit broadcast can be replaced by its source when the op's own
   * broadcasting gives the same output shape: the broadcast tensor is then never materialised
   * (e.g. the adjoint of a mean, spread over a whole feature map, times that map).
   */
  private unexpand(operand: Sym, other: Sym): Sym {
    if (operand.kind !== 'op' || operand.op !== 'broadcastTo') return operand;
    const src = operand.inputs[0]!;
    return shapesEqual(broadcastShapes(src.shape, other.shape), broadcastShapes(operand.shape, other.shape)) ? src : operand;
  }

  private binary(op: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum', a: SymOrNumber, b: SymOrNumber): Sym {
    const x0 = this.sym(a);
    const y0 = this.sym(b);
    const x = this.unexpand(x0, y0);
    const y = this.unexpand(y0, x);
    const vx = scalarValue(x);
    const vy = scalarValue(y);
    const fold = FOLD[op];
    if (fold && vx !== undefined && vy !== undefined) return this.scalar(Math.fround(fold(vx, vy)));
    const sameShape = (s: Sym, other: Sym) => shapesEqual(broadcastShapes(s.shape, other.shape), s.shape);
    // x + 0, x - 0, x * 1, x / 1, only where dropping the constant keeps the output shape.
    if ((op === 'add' || op === 'sub') && vy === 0 && sameShape(x, y)) return x;
    if (op === 'add' && vx === 0 && sameShape(y, x)) return y;
    if ((op === 'mul' || op === 'div') && vy === 1 && sameShape(x, y)) return x;
    if (op === 'mul' && vx === 1 && sameShape(y, x)) return y;
    if (op === 'mul' && vy === -1 && sameShape(x, y)) return this.neg(x);
    if (op === 'mul' && vx === -1 && sameShape(y, x)) return this.neg(y);
    return this.op(op, [x, y], {});
  }

  add(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('add', a, b);
  }
  sub(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('sub', a, b);
  }
  mul(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('mul', a, b);
  }
  div(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('div', a, b);
  }
  pow(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('pow', a, b);
  }
  maximum(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('maximum', a, b);
  }
  minimum(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.binary('minimum', a, b);
  }

  neg(x: Sym): Sym {
    if (x.kind === 'op' && x.op === 'neg') return x.inputs[0]!;
    const v = scalarValue(x);
    return v !== undefined ? this.scalar(-v) : this.op('neg', [x], {});
  }
  exp(x: Sym): Sym {
    return this.op('exp', [x], {});
  }
  log(x: Sym): Sym {
    return this.op('log', [x], {});
  }
  sqrt(x: Sym): Sym {
    return this.op('sqrt', [x], {});
  }
  sign(x: Sym): Sym {
    return this.op('sign', [x], {});
  }
  erf(x: Sym): Sym {
    return this.op('erf', [x], {});
  }
  sigmoid(x: Sym): Sym {
    return this.op('sigmoid', [x], {});
  }
  square(x: Sym): Sym {
    return this.mul(x, x);
  }
  greater(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('greater', [this.sym(a), this.sym(b)], {});
  }
  less(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('less', [this.sym(a), this.sym(b)], {});
  }
  equal(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('equal', [this.sym(a), this.sym(b)], {});
  }
  where(cond: Sym, a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('where', [cond, this.sym(a), this.sym(b)], {});
  }
  cast(x: Sym, to: DType): Sym {
    return x.dtype === to ? x : this.op('cast', [x], { to });
  }

  // ---- reductions ----------------------------------------------------------------------------
  reduceSum(x: Sym, axes: readonly number[], keepDims: boolean): Sym {
    if (axes.length === 0) return x;
    return this.op('reduceSum', [x], { axes: [...axes].sort((p, q) => p - q), keepDims });
  }
  reduceMean(x: Sym, axes: readonly number[], keepDims: boolean): Sym {
    if (axes.length === 0) return x;
    return this.op('reduceMean', [x], { axes: [...axes].sort((p, q) => p - q), keepDims });
  }

  // ---- layout --------------------------------------------------------------------------------
  /** Reshape to an explicit shape (no 0 / -1), skipped when the shape already matches. */
  reshape(x: Sym, shape: Shape): Sym {
    if (shapesEqual(x.shape, shape)) return x;
    if (sizeOf(shape) !== sizeOf(x.shape)) throw new Error(`autodiff: cannot reshape ${formatShape(x.shape)} to ${formatShape(shape)}`);
    // reshape of a reshape: go straight from the original
    const src = x.kind === 'op' && x.op === 'reshape' ? x.inputs[0]! : x;
    if (shapesEqual(src.shape, shape)) return src;
    return this.op('reshape', [src], { shape: [...shape] });
  }
  transpose(x: Sym, perm: readonly number[]): Sym {
    if (perm.every((p, i) => p === i)) return x;
    if (x.kind === 'op' && x.op === 'transpose') {
      const inner = x.attrs.perm;
      return this.transpose(
        x.inputs[0]!,
        perm.map((p) => inner[p]!),
      );
    }
    return this.op('transpose', [x], { perm: [...perm] });
  }
  /** Swaps the last two axes. */
  transposeLast2(x: Sym): Sym {
    const r = x.shape.length;
    const perm = x.shape.map((_, i) => i);
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return this.transpose(x, perm);
  }
  broadcastTo(x: Sym, shape: Shape): Sym {
    if (shapesEqual(x.shape, shape)) return x;
    return this.op('broadcastTo', [x], { shape: [...shape] });
  }
  /** x[start:end:step] along one axis (already in range). */
  slice(x: Sym, axis: number, start: number, end: number, step = 1): Sym {
    if (start === 0 && end === x.shape[axis] && step === 1) return x;
    return this.op('slice', [x], { axes: [axis], starts: [start], ends: [end], steps: [step] });
  }
  sliceAxes(x: Sym, axes: readonly number[], starts: readonly number[], ends: readonly number[], steps: readonly number[]): Sym {
    const keep = axes.map((a, i) => !(starts[i] === 0 && ends[i] === x.shape[a] && steps[i] === 1));
    if (!keep.some(Boolean)) return x;
    const pick = <T>(v: readonly T[]) => v.filter((_, i) => keep[i]);
    return this.op('slice', [x], { axes: pick(axes), starts: pick(starts), ends: pick(ends), steps: pick(steps) });
  }
  /** Pads one axis with zeros (or a constant). */
  padAxis(x: Sym, axis: number, before: number, after: number, value = 0): Sym {
    if (before === 0 && after === 0) return x;
    const r = x.shape.length;
    const pads = new Array<number>(2 * r).fill(0);
    pads[axis] = before;
    pads[axis + r] = after;
    return this.pad(x, pads, 'constant', value);
  }
  pad(x: Sym, pads: readonly number[], mode: PadMode = 'constant', value = 0): Sym {
    if (pads.every((p) => p === 0)) return x;
    return this.op('pad', [x], { pads: [...pads], mode, value });
  }
  concat(xs: readonly Sym[], axis: number): Sym {
    if (xs.length === 1) return xs[0]!;
    return this.op('concat', xs, { axis });
  }
  /** Inserts a size-1 axis. */
  unsqueeze(x: Sym, axis: number): Sym {
    const s = [...x.shape];
    s.splice(axis, 0, 1);
    return this.reshape(x, s);
  }

  // ---- linear algebra ------------------------------------------------------------------------
  matmul(a: Sym, b: Sym): Sym {
    return this.op('matmul', [a, b], {});
  }
  conv2d(x: Sym, w: Sym, attrs: Conv2dAttrs): Sym {
    return this.op('conv2d', [x, w], attrs);
  }
  convTranspose2d(x: Sym, w: Sym, attrs: ConvTranspose2dAttrs): Sym {
    return this.op('convTranspose2d', [x, w], attrs);
  }

  /**
   * Sums a gradient of a broadcast result back to the shape of the operand that was broadcast:
   * leading axes it lacked are summed away, axes where it had size 1 are summed with keepDims.
   */
  unbroadcast(g: Sym, shape: Shape): Sym {
    if (shapesEqual(g.shape, shape)) return g;
    const lead = g.shape.length - shape.length;
    if (lead < 0) throw new Error(`autodiff: gradient ${formatShape(g.shape)} has lower rank than its operand ${formatShape(shape)}`);
    const axes: number[] = [];
    for (let i = 0; i < g.shape.length; i++) {
      if (i < lead) axes.push(i);
      else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
      else if (shape[i - lead] !== g.shape[i]) throw new Error(`autodiff: gradient ${formatShape(g.shape)} does not reduce to ${formatShape(shape)}`);
    }
    return this.reshape(this.reduceSum(g, axes, true), shape);
  }
}
