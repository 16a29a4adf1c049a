/** Gradients of reductions and layout ops: each is the adjoint data movement of its forward. */
import type { Sym } from '../graph.js';
import type { OpAttrMap } from '../ops/attrs.js';
import type { GradOps } from './grad-ops.js';
import type { GradRule } from './rule-types.js';

/** The reduced shape with the reduced axes kept as 1 (what broadcasts back over the input). */
function keptShape(x: Sym, axes: readonly number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export const reduceSum: GradRule<'reduceSum'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  return [g.broadcastTo(g.reshape(dy, keptShape(x, node.attrs.axes)), x.shape)];
};

export const reduceMean: GradRule<'reduceMean'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const n = node.attrs.axes.reduce((p, a) => p * x.shape[a]!, 1);
  return [g.broadcastTo(g.mul(g.reshape(dy, keptShape(x, node.attrs.axes)), 1 / n), x.shape)];
};

/**
 * torch.amax semantics: the gradient is shared evenly between the elements equal to the maximum
 * (a unique maximum gets all of it).
 */
export const reduceMax: GradRule<'reduceMax'> = ({ g, dy, y, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const kept = keptShape(x, node.attrs.axes);
  const mask = g.cast(g.equal(x, g.reshape(y, kept)), 'float32');
  const count = g.reduceSum(mask, node.attrs.axes, true);
  return [g.mul(mask, g.div(g.reshape(dy, kept), count))];
};

export const reshape: GradRule<'reshape'> = ({ g, dy, node, needs }) => (needs[0] ? [g.reshape(dy, node.inputs[0]!.shape)] : []);

export const transpose: GradRule<'transpose'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const inverse = new Array<number>(node.attrs.perm.length);
  node.attrs.perm.forEach((p, i) => (inverse[p] = i));
  return [g.transpose(dy, inverse)];
};

export const broadcastTo: GradRule<'broadcastTo'> = ({ g, dy, node, needs }) => (needs[0] ? [g.unbroadcast(dy, node.inputs[0]!.shape)] : []);

/** Each input gets its own slab of dy. */
export const concat: GradRule<'concat'> = ({ g, dy, node, needs }) => {
  const axis = node.attrs.axis;
  let at = 0;
  return node.inputs.map((x, i) => {
    const size = x.shape[axis]!;
    const piece = needs[i] ? g.slice(dy, axis, at, at + size) : null;
    at += size;
    return piece;
  });
};

/**
 * Scatters a strided slice back along one axis: dy's m entries go to start, start+step, ... and
 * everything else is 0. For step > 1 the entries are interleaved with step-1 zeros first
 * (reshape [m,1] -> pad to [m,step] -> reshape [m*step]).
 */
export function unslice(g: GradOps, dy: Sym, axis: number, size: number, start: number, step: number): Sym {
  const m = dy.shape[axis]!;
  let t = dy;
  let len = m;
  if (step > 1 && m > 0) {
    const shape = [...dy.shape];
    t = g.padAxis(g.unsqueeze(dy, axis + 1), axis + 1, 0, step - 1);
    shape[axis] = m * step;
    t = g.reshape(t, shape);
    len = Math.min(m * step, size - start);
    t = g.slice(t, axis, 0, len);
  }
  return g.padAxis(t, axis, start, size - start - len);
}

export const slice: GradRule<'slice'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const a: OpAttrMap['slice'] = node.attrs;
  let t = dy;
  a.axes.forEach((axis, i) => {
    t = unslice(g, t, axis, x.shape[axis]!, a.starts[i]!, a.steps[i]!);
  });
  return [t];
};

/** Reverses a (short) axis by concatenating its unit slices in reverse order. */
function reverseAxis(g: GradOps, t: Sym, axis: number): Sym {
  const n = t.shape[axis]!;
  if (n <= 1) return t;
  const pieces: Sym[] = [];
  for (let i = n - 1; i >= 0; i--) pieces.push(g.slice(t, axis, i, i + 1));
  return g.concat(pieces, axis);
}

/**
 * Pad: constant mode is a slice of dy. Reflect mode (no edge repeat) also folds the padded
 * borders back: output o < p0 came from x[p0 - o], output p0 + n + k from x[n - 2 - k]. Each
 * border is reversed (unit slices + concat; pads are short) and added at its mirror position.
 * Axes are independent index maps, so they are undone one at a time.
 */
export const pad: GradRule<'pad'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const r = x.shape.length;
  const { pads, mode } = node.attrs;
  let t = dy;
  for (let axis = 0; axis < r; axis++) {
    const before = pads[axis]!;
    const after = pads[axis + r]!;
    if (before === 0 && after === 0) continue;
    const n = x.shape[axis]!;
    let inner = g.slice(t, axis, before, before + n);
    if (mode === 'reflect') {
      if (before > 0) {
        // outputs 0..before-1 came from x[before..1]; reversed they are x[1..before]
        const border = reverseAxis(g, g.slice(t, axis, 0, before), axis);
        inner = g.add(inner, g.padAxis(border, axis, 1, n - 1 - before));
      }
      if (after > 0) {
        // outputs before+n+k came from x[n-2-k], k < after; reversed they are x[n-1-after..n-2]
        const border = reverseAxis(g, g.slice(t, axis, before + n, before + n + after), axis);
        inner = g.add(inner, g.padAxis(border, axis, n - 1 - after, 1));
      }
    }
    t = inner;
  }
  return [t];
};
