/**
 * Reverse-mode differentiation on the graph: `grad(b, loss, wrt)` appends the backward graph to
 * the same builder and returns d loss / d wrt as symbols, so a training step (forward, backward,
 * optimizer) is one static graph that any backend runs or exports.
 */
import type { GraphBuilder } from '../builder.js';
import { describeNode, reachable, type Node, type OpNode, type Sym } from '../graph.js';
import type { OpName } from '../ops/attrs.js';
import { formatShape, shapesEqual, sizeOf } from '../tensor-data.js';
import { GradOps } from './grad-ops.js';
import { GRAD_RULES } from './rules.js';

export interface GradOptions {
  /**
   * The cotangent of `output` (same shape): grad then returns the vector-Jacobian product
   * seed^T d output / d wrt. Default: 1, which requires a single-element output (a loss).
   */
  readonly seed?: Sym;
  /** Name scope of the backward ops (for ONNX node names and errors). Default 'backward'. */
  readonly scope?: string;
}

/** A contribution that is a zero-padded piece along one axis (what a slice's gradient is). */
interface Piece {
  readonly axis: number;
  readonly start: number;
  readonly end: number;
  readonly value: Sym;
}

function asPiece(c: Sym): Piece | null {
  if (c.kind !== 'op' || c.op !== 'pad' || c.attrs.mode !== 'constant' || c.attrs.value !== 0) return null;
  const r = c.shape.length;
  const axes = c.shape.map((_, i) => i).filter((i) => c.attrs.pads[i]! !== 0 || c.attrs.pads[i + r]! !== 0);
  if (axes.length !== 1) return null;
  const axis = axes[0]!;
  const start = c.attrs.pads[axis]!;
  return { axis, start, end: start + c.inputs[0]!.shape[axis]!, value: c.inputs[0]! };
}

/**
 * The adjoint of a node used several times: the sum of its uses' contributions. Disjoint slices of
 * one axis (the gradients of a `split`, e.g. attention's q/k/v projections) are concatenated
 * instead of each being zero-padded to full size and added.
 */
function sumContributions(g: GradOps, list: readonly Sym[], shape: readonly number[]): Sym {
  const pieces: Piece[] = [];
  const rest: Sym[] = [];
  for (const c of list) {
    const p = asPiece(c);
    if (p && (pieces.length === 0 || pieces[0]!.axis === p.axis)) pieces.push(p);
    else rest.push(c);
  }
  let parts: readonly Sym[] = rest;
  if (pieces.length >= 2) {
    pieces.sort((a, b) => a.start - b.start);
    const disjoint = pieces.every((p, i) => i === 0 || p.start >= pieces[i - 1]!.end);
    if (disjoint) {
      const axis = pieces[0]!.axis;
      const slab = (from: number, to: number) => g.zeros(shape.map((d, i) => (i === axis ? to - from : d)));
      const blocks: Sym[] = [];
      let at = 0;
      for (const p of pieces) {
        if (p.start > at) blocks.push(slab(at, p.start));
        blocks.push(p.value);
        at = p.end;
      }
      if (at < shape[axis]!) blocks.push(slab(at, shape[axis]!));
      parts = [g.concat(blocks, axis), ...rest];
    } else parts = list;
  } else parts = list;
  let sum = parts[0]!;
  for (let i = 1; i < parts.length; i++) sum = g.add(sum, parts[i]!);
  return sum;
}

function applyRule<K extends OpName>(node: OpNode<K>, y: Sym, dy: Sym, needs: readonly boolean[], g: GradOps): ReadonlyArray<Sym | null | undefined> {
  const rule = GRAD_RULES[node.op];
  return rule({ node, y, dy, needs, g });
}

/**
 * d output / d wrt[i] for each i, built into `b`. Only nodes on a path from some `wrt` to `output`
 * get adjoints (everything else, frozen branches included, is never differentiated); a node used
 * several times gets the sum of its uses' contributions; forward values the rules need are the
 * forward nodes themselves, and repeated backward subexpressions are built once. A `wrt` the output
 * does not depend on gets zeros.
 */
export function grad(b: GraphBuilder, output: Sym, wrt: readonly Sym[], options: GradOptions = {}): Sym[] {
  if (output.dtype !== 'float32') throw new Error(`grad: output ${describeNode(output)} is ${output.dtype}, not float32`);
  for (const w of wrt) if (w.dtype !== 'float32') throw new Error(`grad: cannot differentiate with respect to ${describeNode(w)} (${w.dtype})`);
  if (options.seed) {
    if (!shapesEqual(options.seed.shape, output.shape)) {
      throw new Error(`grad: seed ${formatShape(options.seed.shape)} does not match output ${formatShape(output.shape)}`);
    }
  } else if (sizeOf(output.shape) !== 1) {
    throw new Error(`grad: output ${describeNode(output)} is not a scalar; pass options.seed for a vector-Jacobian product`);
  }

  return b.within(options.scope ?? 'backward', () => {
    const ancestors = reachable([output]);
    const wrtIds = new Set(wrt.map((w) => w.id));
    // Nodes that depend on some wrt (ancestors come in topological order).
    const active = new Set<number>();
    for (const n of ancestors) {
      if (wrtIds.has(n.id) || (n.kind === 'op' && n.inputs.some((i) => active.has(i.id)))) active.add(n.id);
    }
    const g = new GradOps(b, ancestors);
    const parts = new Map<number, Sym[]>();
    const totals = new Map<number, Sym>();
    const total = (n: Node): Sym | undefined => {
      const cached = totals.get(n.id);
      if (cached) return cached;
      const list = parts.get(n.id);
      if (!list || list.length === 0) return undefined;
      const sum = sumContributions(g, list, n.shape);
      totals.set(n.id, sum);
      parts.delete(n.id);
      return sum;
    };
    parts.set(output.id, [options.seed ?? g.broadcastTo(g.scalar(1), output.shape)]);

    for (let k = ancestors.length - 1; k >= 0; k--) {
      const node = ancestors[k]!;
      if (node.kind !== 'op' || !active.has(node.id)) continue;
      const dy = total(node);
      if (!dy) continue;
      const needs = node.inputs.map((i) => active.has(i.id) && i.dtype === 'float32');
      if (!needs.some(Boolean)) continue;
      const grads = applyRule(node, node, dy, needs, g);
      node.inputs.forEach((input, i) => {
        const gi = grads[i];
        if (!needs[i] || !gi) return;
        if (!shapesEqual(gi.shape, input.shape)) {
          throw new Error(`grad: rule of ${describeNode(node)} gave ${formatShape(gi.shape)} for input ${i} ${formatShape(input.shape)}`);
        }
        const list = parts.get(input.id);
        if (list) list.push(gi);
        else parts.set(input.id, [gi]);
      });
    }
    return wrt.map((w) => total(w) ?? g.zeros(w.shape));
  });
}
