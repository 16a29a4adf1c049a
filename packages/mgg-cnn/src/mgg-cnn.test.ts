import { readFileSync } from 'node:fs';
import { createGraph, createRng, initParams, countParams, type TensorData } from '@unias/graph';
import { erf64, evaluateReference, maxRelError } from '@unias/graph/testing';
import { FIXTURES } from '@unias/test-fixtures';
import { describe, expect, it } from 'vitest';
import { ADAPTOR_KINDS, createAdaptor, mggCnn } from './index.js';

/** Independent float64 conv2d ('same' padding, stride 1), straight from the definition. */
function conv(x: Float64Array, [c, h, w]: [number, number, number], weight: ArrayLike<number>, bias: ArrayLike<number>, co: number, k: number): Float64Array {
  const out = new Float64Array(co * h * w);
  const p = (k - 1) / 2;
  for (let o = 0; o < co; o++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        let s = bias[o]!;
        for (let ci = 0; ci < c; ci++)
          for (let a = 0; a < k; a++)
            for (let bb = 0; bb < k; bb++) {
              const ii = i + a - p;
              const jj = j + bb - p;
              if (ii >= 0 && ii < h && jj >= 0 && jj < w) s += x[(ci * h + ii) * w + jj]! * weight[((o * c + ci) * k + a) * k + bb]!;
            }
        out[(o * h + i) * w + j] = s;
      }
  return out;
}
const gelu = (v: Float64Array) => v.map((t) => 0.5 * t * (1 + erf64(t / Math.SQRT2)));

function random(shape: number[], seed: number): TensorData<'float32'> {
  const data = createRng(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1);
  return { dtype: 'float32', shape, data };
}

describe('MGG-CNN', () => {
  it('has the official parameter names and shapes (query-processor adaptor of the small preset)', () => {
    const shapes = JSON.parse(readFileSync(FIXTURES.stateDictShapes, 'utf8')) as { small: { state_dict: Record<string, number[]> } };
    const prefix = 'sem_seg_head.predictor.query_processor.adaptor.';
    const official = Object.entries(shapes.small.state_dict).filter(([k]) => k.startsWith(prefix));
    expect(official.length).toBe(14);
    const b = createGraph();
    b.within('sem_seg_head', () =>
      b.within('predictor', () => b.within('query_processor', () => mggCnn(b, 'adaptor', b.input('x', [1, 128, 14, 14]), { hidden: 64, out: 64 }))),
    );
    const g = b.build();
    expect(new Map([...g.params.values()].map((p) => [p.name, [...p.shape]]))).toEqual(new Map(official));
  });

  it('computes the sum of four GELU branches with receptive fields 1, 3, 5, 7 (vs a direct float64 computation)', () => {
    const [ci, h, w, hidden, co] = [3, 6, 5, 4, 2];
    const b = createGraph();
    b.output('y', mggCnn(b, 'm', b.input('x', [1, ci, h, w]), { hidden, out: co }));
    const g = b.build();
    const params = initParams(g, 3);
    const x = random([1, ci, h, w], 11);
    const got = evaluateReference(g, { x }, { params }).y!;
    const P = (n: string) => params.get(`m.${n}`)!.data;
    const X = Float64Array.from(x.data);
    const b0 = gelu(conv(X, [ci, h, w], P('conv0.weight'), P('conv0.bias'), co, 1));
    const b1 = gelu(conv(X, [ci, h, w], P('conv1.weight'), P('conv1.bias'), co, 3));
    const t2 = conv(X, [ci, h, w], P('conv2.0.weight'), P('conv2.0.bias'), hidden, 3);
    const b2 = gelu(conv(t2, [hidden, h, w], P('conv2.1.weight'), P('conv2.1.bias'), co, 3));
    const t3a = conv(X, [ci, h, w], P('conv3.0.weight'), P('conv3.0.bias'), hidden, 3);
    const t3b = conv(t3a, [hidden, h, w], P('conv3.1.weight'), P('conv3.1.bias'), hidden, 3);
    const b3 = gelu(conv(t3b, [hidden, h, w], P('conv3.2.weight'), P('conv3.2.bias'), co, 3));
    const expected = b0.map((v, i) => v + b1[i]! + b2[i]! + b3[i]!);
    expect(got.shape).toEqual([1, co, h, w]);
    expect(maxRelError(got.data, expected)).toBeLessThan(1e-12);
  });

  it('reaches exactly 7x7: an impulse spreads 3 pixels in each direction and no further', () => {
    const b = createGraph();
    b.output('y', mggCnn(b, 'm', b.input('x', [1, 1, 11, 11]), { hidden: 2, out: 1 }));
    const g = b.build();
    const params = initParams(g, 5);
    const run = (v: number) => {
      const data = new Float32Array(121);
      data[60] = v; // centre
      return evaluateReference(g, { x: { dtype: 'float32', shape: [1, 1, 11, 11], data } }, { params }).y!.data;
    };
    const base = run(0);
    const moved = run(1);
    for (let i = 0; i < 11; i++)
      for (let j = 0; j < 11; j++) {
        const changed = Math.abs(moved[i * 11 + j]! - base[i * 11 + j]!) > 1e-12;
        expect(changed, `pixel ${i},${j}`).toBe(Math.abs(i - 5) <= 3 && Math.abs(j - 5) <= 3);
      }
  });

  it('initialises weights with xavier_uniform bounds like the official module', () => {
    const b = createGraph();
    mggCnn(b, 'm', b.input('x', [1, 128, 14, 14]), { hidden: 64, out: 64 });
    const g = b.build();
    const params = initParams(g, 1);
    const w = params.get('m.conv1.weight')!.data;
    const bound = Math.sqrt(6 / (128 * 9 + 64 * 9));
    const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(max).toBeLessThanOrEqual(bound);
    expect(max).toBeGreaterThan(0.95 * bound);
  });
});

describe('createAdaptor', () => {
  const shapesOf = (kind: (typeof ADAPTOR_KINDS)[number], ci: number, hidden: number, co: number) => {
    const b = createGraph();
    const y = createAdaptor(kind, { out: co, hidden }).apply(b, 'a', b.input('x', [2, ci, 5, 5]));
    b.output('y', y);
    const g = b.build();
    return { g, y, params: Object.fromEntries([...g.params.values()].map((p) => [p.name, [...p.shape]])) };
  };

  it('builds every kind with the documented parameter names', () => {
    expect(shapesOf('conv3x3', 8, 8, 6).params).toEqual({ 'a.weight': [6, 8, 3, 3], 'a.bias': [6] });
    expect(shapesOf('conv1x1', 8, 8, 6).params).toEqual({ 'a.weight': [6, 8, 1, 1], 'a.bias': [6] });
    expect(Object.keys(shapesOf('conv3x3x3', 8, 4, 6).params)).toEqual([
      'a.convs.0.weight',
      'a.convs.0.bias',
      'a.convs.1.weight',
      'a.convs.1.bias',
      'a.convs.2.weight',
      'a.convs.2.bias',
    ]);
    expect(shapesOf('mlp', 8, 16, 6).params).toEqual({
      'a.layers.0.weight': [16, 8, 1, 1],
      'a.layers.0.bias': [16],
      'a.layers.1.weight': [6, 16, 1, 1],
      'a.layers.1.bias': [6],
    });
    expect(Object.keys(shapesOf('mgg-cnn-light', 8, 6, 6).params).sort()).toEqual(
      ['conv0', 'conv1', 'conv2', 'conv3'].flatMap((c) => [`a.${c}.bias`, `a.${c}.weight`]),
    );
    const id = shapesOf('identity', 6, 6, 6);
    expect(id.params).toEqual({});
    expect(id.y.kind).toBe('input');
    for (const kind of ADAPTOR_KINDS) expect(shapesOf(kind, 6, 6, 6).y.shape, kind).toEqual([2, 6, 5, 5]);
  });

  it('makes the light variant about half the size of the full block at equal widths', () => {
    const full = countParams(shapesOf('mgg-cnn', 64, 64, 64).g);
    const light = countParams(shapesOf('mgg-cnn-light', 64, 64, 64).g);
    expect(light / full).toBeGreaterThan(0.45);
    expect(light / full).toBeLessThan(0.55);
  });

  it('computes the light variant as a cascade (vs a direct float64 computation)', () => {
    const [ci, h, w, co] = [2, 5, 4, 3];
    const b = createGraph();
    b.output('y', createAdaptor('mgg-cnn-light', { out: co }).apply(b, 'a', b.input('x', [1, ci, h, w])));
    const graph = b.build();
    const params = initParams(graph, 9);
    const x = random([1, ci, h, w], 4);
    const P = (n: string) => params.get(`a.${n}`)!.data;
    const X = Float64Array.from(x.data);
    const c1 = conv(X, [ci, h, w], P('conv1.weight'), P('conv1.bias'), co, 3);
    const c2 = conv(c1, [co, h, w], P('conv2.weight'), P('conv2.bias'), co, 3);
    const c3 = conv(c2, [co, h, w], P('conv3.weight'), P('conv3.bias'), co, 3);
    const c0 = conv(X, [ci, h, w], P('conv0.weight'), P('conv0.bias'), co, 1);
    const [g0, g1, g2, g3] = [gelu(c0), gelu(c1), gelu(c2), gelu(c3)];
    const expected = g0.map((v, i) => v + g1[i]! + g2[i]! + g3[i]!);
    expect(maxRelError(evaluateReference(graph, { x }, { params }).y!.data, expected)).toBeLessThan(1e-12);
  });

  it('refuses unknown kinds, bad widths and an identity that changes channels, naming the problem', () => {
    expect(() => createAdaptor('mgg' as never, { out: 4 })).toThrow(/unknown adaptor kind "mgg"; known: mgg-cnn/);
    expect(() => createAdaptor('mgg-cnn', { out: 0 })).toThrow(/out must be a positive integer/);
    expect(() => createAdaptor('mgg-cnn', { out: 4, hidden: 2.5 })).toThrow(/hidden must be a positive integer/);
    const b = createGraph();
    expect(() => createAdaptor('identity', { out: 4 }).apply(b, 'a', b.input('x', [1, 3, 2, 2]))).toThrow(
      /identity needs input channels = output channels, got 3 -> 4/,
    );
  });
});
