import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../builder.js';
import { OP_NAMES } from '../ops/infer.js';
import { createRng } from '../rng.js';
import { OP_CASES, caseGraph, uniform } from './cases.js';
import { maxRelError } from './compare.js';
import { erf64 } from './erf64.js';
import { evaluateReference } from './reference.js';

describe('conformance cases', () => {
  it('cover every op', () => {
    const covered = new Set(OP_CASES.map((c) => c.op));
    expect(OP_NAMES.filter((op) => !covered.has(op))).toEqual([]);
    expect(new Set(OP_CASES.map((c) => c.id)).size).toBe(OP_CASES.length);
  });

  it.each(OP_CASES.filter((c) => c.expected).map((c) => [c.id, c] as const))('%s: reference equals the closed form', (_, c) => {
    const { graph, feeds } = caseGraph(c);
    const out = evaluateReference(graph, feeds);
    for (const [name, values] of Object.entries(c.expected!)) {
      expect(maxRelError(out[name]!.data, values)).toBeLessThan(1e-7);
    }
  });

  it('every case evaluates on the reference with finite outputs of the inferred shape', () => {
    for (const c of OP_CASES) {
      const { graph, feeds } = caseGraph(c);
      const out = evaluateReference(graph, feeds);
      for (const [name, node] of graph.outputs) {
        expect(out[name]!.shape, c.id).toEqual(node.shape);
        expect(out[name]!.data.every(Number.isFinite), c.id).toBe(true);
      }
    }
  });
});

describe('reference evaluator', () => {
  it('erf64 matches known values to 1e-13', () => {
    const known: Array<[number, number]> = [
      [0.1, 0.1124629160182849],
      [1.5, 0.9661051464753108],
      [2.9, 0.9999589021219005],
      [3.5, 0.9999992569016276],
      [-4.2, -0.9999999971445058],
    ];
    for (const [x, v] of known) expect(Math.abs(erf64(x) - v)).toBeLessThan(1e-13);
  });

  it('convTranspose2d is the adjoint of conv2d: <conv(x), y> = <x, convT(y)>', () => {
    const rng = createRng(3);
    const configs = [
      { x: [1, 4, 9, 8], w: [6, 2, 3, 3], strides: [2, 2], pads: [1, 0, 2, 1], dil: [1, 1], groups: 2 },
      { x: [2, 3, 7, 7], w: [3, 1, 5, 5], strides: [2, 1], pads: [2, 2, 2, 2], dil: [1, 1], groups: 3 },
      { x: [1, 2, 8, 8], w: [4, 2, 3, 3], strides: [1, 1], pads: [2, 2, 2, 2], dil: [2, 2], groups: 1 },
    ] as const;
    for (const c of configs) {
      const b = new GraphBuilder();
      const x = b.input('x', c.x);
      const w = b.input('w', c.w);
      const y = b.conv2d(x, w, null, { stride: c.strides, padding: c.pads, dilation: c.dil, groups: c.groups });
      const yIn = b.input('y', y.shape);
      // output padding so convT reproduces x's size exactly
      const outPad = [0, 1].map((i) => {
        const full = (y.shape[2 + i]! - 1) * c.strides[i]! - c.pads[i]! - c.pads[i + 2]! + c.dil[i]! * (c.w[2 + i]! - 1) + 1;
        return c.x[2 + i]! - full;
      }) as [number, number];
      const xt = b.convTranspose2d(yIn, w, null, { strides: c.strides, pads: c.pads, dilations: c.dil, groups: c.groups, outputPadding: outPad });
      expect(xt.shape).toEqual(c.x);
      b.output('y', y);
      b.output('xt', xt);
      const feeds = { x: uniform(rng, c.x), w: uniform(rng, c.w), y: uniform(rng, y.shape) };
      const out = evaluateReference(b.build(), feeds);
      const dot = (a: ArrayLike<number>, bb: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * bb[i]!, 0);
      const lhs = dot(out['y']!.data, feeds.y.data);
      const rhs = dot(feeds.x.data, out['xt']!.data);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * Math.max(1, Math.abs(lhs)));
    }
  });

  it('evaluates a graph at another batch size (reshape 0 / -1)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3, 4]);
    b.output('y', b.sum(b.reshape(x, [0, -1]), 1));
    const g = b.build();
    const out = evaluateReference(g, { x: { dtype: 'float32', shape: [3, 3, 4], data: new Float32Array(36).fill(1) } });
    expect(out['y']!.shape).toEqual([3]);
    expect(Array.from(out['y']!.data)).toEqual([12, 12, 12]);
  });
});
