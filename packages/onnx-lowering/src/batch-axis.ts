/**
 * Where the batch dimension N lives in each value, for `dynamicBatch` exports: inputs carry it in
 * dim 0; ops move it (transpose), keep it (elementwise, conv), or lose it (a reduction over it, a
 * reshape that folds it). The lowering uses this to write batch-generic shape arguments and to
 * declare `N` on the right output dims. A value that loses track is simply static.
 */
import type { AnyOpNode, Graph, Node } from '@unias/graph';

export type BatchAxes = ReadonlyMap<number, number | null>;

/** The static batch size the graph was built at: dim 0 shared by every input of rank >= 1. */
export function staticBatch(graph: Graph): number | null {
  let batch: number | null = null;
  let first = '';
  for (const inp of graph.inputs.values()) {
    if (inp.shape.length === 0) continue;
    const d = inp.shape[0]!;
    if (batch === null) {
      batch = d;
      first = inp.name;
    } else if (d !== batch) {
      throw new Error(
        `dynamicBatch: inputs disagree on dim 0 ("${first}" has ${batch}, "${inp.name}" has ${d}); ` + 'every input of rank >= 1 must lead with the batch',
      );
    }
  }
  return batch;
}

function prod(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/**
 * Reshape: the output axis holding the input's batch axis `a`, and the target entry to write there
 * (0 copies the input dim at the same index, -1 infers it), or null when the reshape folds the batch.
 */
export function reshapeBatch(
  inShape: readonly number[],
  outShape: readonly number[],
  target: readonly number[],
  a: number,
): { axis: number; entry: 0 | -1 } | null {
  const before = prod(inShape.slice(0, a));
  let acc = 1;
  for (let k = 0; k < outShape.length; k++) {
    if (acc === before && outShape[k] === inShape[a] && prod(outShape.slice(k + 1)) === prod(inShape.slice(a + 1))) {
      if (k === a && (target[k] === 0 || target[k] === inShape[a])) return { axis: k, entry: 0 };
      if (target[k] === -1 || !target.some((t, j) => t === -1 && j !== k)) return { axis: k, entry: -1 };
      return null;
    }
    acc *= outShape[k]!;
    if (acc > before) return null;
  }
  return null;
}

/** Whether a broadcastTo of `x` to `shape` introduces the batch at dim 0 (a param expanded per sample). */
export function expandIntroducesBatch(x: Node, shape: readonly number[], batch: number | null): boolean {
  if (batch === null || batch <= 1 || shape[0] !== batch) return false;
  const j = x.shape.length - shape.length;
  return j < 0 || x.shape[j] === 1;
}

function aligned(a: number | null, inRank: number, outRank: number): number | null {
  return a === null ? null : a + outRank - inRank;
}

function opBatchAxis(n: AnyOpNode, axisOf: (x: Node) => number | null, batch: number | null): number | null {
  const x = n.inputs[0]!;
  const a = axisOf(x);
  const rank = n.shape.length;
  switch (n.op) {
    case 'reduceSum':
    case 'reduceMean':
    case 'reduceMax': {
      if (a === null || n.attrs.axes.includes(a)) return null;
      return n.attrs.keepDims ? a : a - n.attrs.axes.filter((ax) => ax < a).length;
    }
    case 'reshape':
      return a === null ? null : (reshapeBatch(x.shape, n.shape, n.attrs.shape, a)?.axis ?? null);
    case 'transpose':
      return a === null ? null : n.attrs.perm.indexOf(a);
    case 'concat': {
      const first = n.inputs.map(axisOf).find((v) => v !== null) ?? null;
      return first === n.attrs.axis ? null : first;
    }
    case 'slice':
      return a === null || n.attrs.axes.includes(a) ? null : a;
    case 'pad':
      return a === null || n.attrs.pads[a] !== 0 || n.attrs.pads[a + x.shape.length] !== 0 ? null : a;
    case 'broadcastTo':
      if (a !== null) return aligned(a, x.shape.length, rank);
      return expandIntroducesBatch(x, n.attrs.shape, batch) ? 0 : null;
    case 'matmul': {
      const [p, q] = n.inputs as [Node, Node];
      const ap = axisOf(p);
      const aq = axisOf(q);
      if (ap !== null && ap < p.shape.length - 1) return ap === p.shape.length - 2 ? rank - 2 : aligned(ap, p.shape.length, rank);
      if (aq !== null && aq !== q.shape.length - 2) return aq === q.shape.length - 1 ? rank - 1 : aligned(aq, q.shape.length, rank);
      return null;
    }
    case 'conv2d':
    case 'convTranspose2d':
    case 'avgPool2d':
    case 'maxPool2d':
    case 'resizeBilinear':
      return a === 0 ? 0 : null;
    case 'cosineSimilarity': {
      const b = n.inputs.map((i) => aligned(axisOf(i), i.shape.length, rank + 1)).find((v) => v !== null) ?? null;
      if (b === null || b === n.attrs.axis) return null;
      return b > n.attrs.axis ? b - 1 : b;
    }
    default: {
      // Elementwise and shape-preserving ops (unary, binary, where, softmax, norms): numpy alignment.
      for (const i of n.inputs) {
        const ai = aligned(axisOf(i), i.shape.length, rank);
        if (ai !== null) return ai;
      }
      return null;
    }
  }
}

/** The batch axis of every node (null: no batch dimension). */
export function batchAxes(graph: Graph): Map<number, number | null> {
  const batch = staticBatch(graph);
  const out = new Map<number, number | null>();
  const axisOf = (x: Node) => out.get(x.id) ?? null;
  for (const n of graph.nodes) {
    switch (n.kind) {
      case 'input':
        out.set(n.id, n.shape.length > 0 ? 0 : null);
        break;
      case 'param':
      case 'const':
        out.set(n.id, null);
        break;
      case 'op':
        out.set(n.id, opBatchAxis(n, axisOf, batch));
        break;
    }
  }
  return out;
}
