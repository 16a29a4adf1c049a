import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../builder.js';
import { prune, reachable } from '../graph.js';
import { conv2dLayer, groupNormLayer, layerNormLayer, linearLayer, multiheadAttention } from '../nn.js';
import { initParams } from '../params.js';
import { createRng } from '../rng.js';
import type { TensorData } from '../tensor-data.js';
import { evaluateReference } from '../testing/reference.js';
import { grad } from './grad.js';
import { finiteDifferenceCheck, FD_TOLERANCE, type GradCase } from '../testing/gradient-check.js';

const f32 = (shape: number[], values: number[]): TensorData => ({ dtype: 'float32', shape, data: Float32Array.from(values) });

function run(b: GraphBuilder, feeds: Record<string, TensorData>): Record<string, number[]> {
  const out = evaluateReference(b.build(), feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data)]));
}

describe('grad', () => {
  it('sums the contributions of a node used several times', () => {
    // L = sum(x * x + 3 x) -> dL/dx = 2x + 3
    const b = new GraphBuilder();
    const x = b.input('x', [3]);
    const [dx] = grad(b, b.sumAll(b.add(b.mul(x, x), b.mul(x, 3))), [x]);
    b.output('dx', dx!);
    expect(run(b, { x: f32([3], [1, -2, 0.5]) })['dx']).toEqual([5, -1, 4]);
  });

  it('differentiates only what lies between wrt and the loss', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 4]);
    const frozen = b.param('frozen', [4, 4], { kind: 'ones' }, { trainable: false });
    const w = b.param('w', [4, 3], { kind: 'ones' });
    const features = b.relu(b.matmul(x, frozen)); // a frozen "backbone"
    const loss = b.sumAll(b.matmul(features, w));
    const before = new Set(reachable([loss]).map((n) => n.id));
    const [dw] = grad(b, loss, [w]);
    const backward = reachable([dw!]).filter((n) => !before.has(n.id));
    // dw = features^T @ ones: no op of the backward graph touches the frozen branch's derivative
    expect(backward.filter((n) => n.kind === 'op').map((n) => (n.kind === 'op' ? n.op : ''))).not.toContain('where');
    expect(backward.some((n) => n.kind === 'op' && n.op === 'matmul' && n.inputs.includes(frozen))).toBe(false);
  });

  it('gives zeros for a wrt the output does not depend on, and refuses a non-scalar output without a seed', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2]);
    const unused = b.input('u', [2, 2]);
    const [dx, du] = grad(b, b.sumAll(b.exp(x)), [x, unused]);
    b.output('du', du!);
    b.output('dx', dx!);
    const out = run(b, { x: f32([2], [0, 1]), u: f32([2, 2], [1, 2, 3, 4]) });
    expect(out['du']).toEqual([0, 0, 0, 0]);
    expect(out['dx']![1]).toBeCloseTo(Math.E, 6);
    expect(() => grad(b, b.exp(x), [x])).toThrow(/not a scalar/);
    expect(() => grad(b, b.sumAll(x), [b.cast(x, 'int32')])).toThrow(/int32/);
  });

  it('reuses forward values and folds transposes (a linear layer needs no second transpose of W)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 5, 4]);
    const y = linearLayer(b, 'fc', x, { out: 3 });
    const wNode = b.getParam('fc.weight')!;
    const loss = b.sumAll(b.sigmoid(y));
    const before = new Set(reachable([loss]).map((n) => n.id));
    const [dx, dw] = grad(b, loss, [x, wNode]);
    const added = reachable([dx!, dw!]).filter((n) => !before.has(n.id));
    expect(added.filter((n) => n.kind === 'op' && n.op === 'sigmoid')).toHaveLength(0); // forward sigmoid reused
    // dx = dy @ W (transpose(transpose(W)) folded away); dW = (x^T dy)^T as one 2-D GEMM
    const matmuls = added.filter((n) => n.kind === 'op' && n.op === 'matmul');
    expect(matmuls).toHaveLength(2);
    expect(matmuls.some((n) => n.kind === 'op' && n.inputs[1] === wNode)).toBe(true);
    expect(matmuls.every((n) => n.shape.length === 3 || n.shape.length === 2)).toBe(true);
  });

  it('max pooling routes to the first maximum of a window; reduceMax shares ties; maximum halves them', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 1, 2, 4]);
    const pooled = b.maxPool2d(x, 2); // windows [[1,1],[0,1]] and [[2,0],[2,2]]
    const [dPool] = grad(b, b.sumAll(pooled), [x]);
    const [dMax] = grad(b, b.sumAll(b.max(x, [3])), [x]);
    const a = b.input('a', [3]);
    const [dA] = grad(b, b.sumAll(b.maximum(a, 1)), [a]);
    b.output('dPool', dPool!);
    b.output('dMax', dMax!);
    b.output('dA', dA!);
    const out = run(b, { x: f32([1, 1, 2, 4], [1, 1, 2, 0, 0, 1, 2, 2]), a: f32([3], [0, 1, 2]) });
    expect(out['dPool']).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
    expect(out['dMax']).toEqual([0, 0, 1, 0, 0, 0, 0.5, 0.5]);
    expect(out['dA']).toEqual([0, 0.5, 1]);
  });

  it('the gradient of a split is one concat of its pieces (gaps zero), not padded pieces added up', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [6, 2]);
    const [p, , r] = b.split(x, 0, [2, 1, 3]);
    const loss = b.add(b.sumAll(b.mul(p!, 3)), b.sumAll(b.exp(r!)));
    const before = new Set(reachable([loss]).map((n) => n.id));
    const [dx] = grad(b, loss, [x]);
    const added = reachable([dx!])
      .filter((n) => !before.has(n.id) && n.kind === 'op')
      .map((n) => (n.kind === 'op' ? n.op : ''));
    expect(added).toContain('concat');
    expect(added).not.toContain('pad');
    expect(added).not.toContain('add');
    b.output('dx', dx!);
    const xs = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2];
    const out = run(b, { x: f32([6, 2], xs) })['dx']!;
    expect(out.slice(0, 6)).toEqual([3, 3, 3, 3, 0, 0]);
    out.slice(6).forEach((v, i) => expect(v).toBeCloseTo(Math.exp(xs[6 + i]!), 6));
  });

  it('a vector-Jacobian product with a seed', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 2]);
    const seed = b.input('seed', [2, 2]);
    const [dx] = grad(b, b.mul(x, 2), [x], { seed });
    b.output('dx', dx!);
    expect(run(b, { x: f32([2, 2], [1, 2, 3, 4]), seed: f32([2, 2], [1, -1, 0.5, 0]) })['dx']).toEqual([2, -2, 1, 0]);
  });
});

/** A small model built from the nn layers, every param checked by finite differences. */
function blockCase(): GradCase {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 4, 6, 6]);
  let h = conv2dLayer(b, 'conv1', x, { out: 8, kernel: 3, padding: 1 });
  h = b.gelu(groupNormLayer(b, 'gn', h, 2));
  h = conv2dLayer(b, 'dw', h, { out: 8, kernel: 3, padding: 'same', stride: 2, groups: 8 });
  const tokens = b.transpose(b.reshape(h, [0, 8, -1]), [0, 2, 1]); // [2, 9, 8]
  const attn = multiheadAttention(b, 'attn', tokens, tokens, tokens, { numHeads: 2 });
  const t = layerNormLayer(b, 'ln', b.add(tokens, attn));
  const up = b.resizeBilinear(b.reshape(b.transpose(t, [0, 2, 1]), [0, 8, 3, 3]), [6, 6], false);
  const out = conv2dLayer(b, 'head', b.pad2d(up, [1, 1, 1, 1], 'reflect'), { out: 4, kernel: 3 });
  const target = b.input('target', [2, 4, 6, 6]);
  const loss = b.meanAll(b.square(b.sub(out, target)));
  const graph = b.build();
  const params = [...graph.params.values()];
  const grads = grad(b, loss, params);
  b.output('loss', loss);
  params.forEach((p, i) => b.output(`grad:${p.name}`, grads[i]!));
  const rng = createRng(5);
  const feeds: Record<string, TensorData> = {
    x: { dtype: 'float32', shape: [2, 4, 6, 6], data: rng.fillUniform(new Float32Array(288), -1, 1) },
    target: { dtype: 'float32', shape: [2, 4, 6, 6], data: rng.fillUniform(new Float32Array(288), -1, 1) },
  };
  for (const [name, t] of initParams(graph, 3)) {
    // non-trivial norms: perturb the ones/zeros initialisation
    if (name.startsWith('gn.') || name.startsWith('ln.')) t.data.forEach((v, i) => (t.data[i] = v + 0.3 * Math.sin(i + 1)));
    feeds[name] = t;
  }
  return { graph: prune(b.build()), feeds, wrt: params.map((p) => p.name) };
}

describe('gradients of a composed block (conv, groupNorm, GELU, depthwise, attention, layerNorm, resize, reflect pad)', () => {
  it('match float64 central differences', () => {
    const gc = blockCase();
    const { maxRelError } = finiteDifferenceCheck(gc, 12);
    expect(maxRelError).toBeLessThan(FD_TOLERANCE);
  });
});

describe('conv weight gradient: copies before the GEMM', () => {
  // Floats written by the layout ops (pad, slice, concat, transpose) of dL/dw for a conv of x; a
  // swap of the last two axes is left out (ONNX Runtime folds it into the MatMul it feeds).
  const copiedFloats = (x: [number, number, number, number], w: [number, number, number, number], options: { stride?: number; padding?: number }) => {
    const b = new GraphBuilder();
    const input = b.input('x', x);
    const weight = b.param('w', w, { kind: 'ones' });
    const loss = b.sumAll(b.square(b.conv2d(input, weight, null, options)));
    const before = new Set(reachable([loss]).map((n) => n.id));
    const [dw] = grad(b, loss, [weight]);
    const layout = new Set(['pad', 'slice', 'concat', 'transpose']);
    return reachable([dw!])
      .filter((n) => !before.has(n.id) && n.kind === 'op' && layout.has(n.op))
      .filter(
        (n) =>
          !(
            n.kind === 'op' &&
            n.op === 'transpose' &&
            n.attrs.perm.every((p, i) => (i < n.attrs.perm.length - 2 ? p === i : p === n.attrs.perm.length * 2 - 3 - i))
          ),
      )
      .reduce((a, n) => a + n.shape.reduce((p, d) => p * d, 1), 0);
  };

  it('a stride-1 3x3 conv copies about kh + kw planes of dy and x, not im2col 2 * kh * kw', () => {
    // 32 channels at 64x64, batch 2: im2col copied pad + 9 slices + their concat + two transposes, ~21 maps
    const map = 2 * 32 * 64 * 64;
    expect(copiedFloats([2, 32, 64, 64], [32, 32, 3, 3], { padding: 1 }) / map).toBeLessThan(14);
  });

  it('a patch embedding (kernel = stride) copies its input twice, not kh * kw slices and a concat', () => {
    const map = 2 * 16 * 64 * 64;
    expect(copiedFloats([2, 16, 64, 64], [24, 16, 8, 8], { stride: 8 }) / map).toBeLessThanOrEqual(2.05);
  });
});
