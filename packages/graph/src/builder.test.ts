import { describe, expect, it } from 'vitest';
import { createGraph } from './builder.js';
import { prune } from './graph.js';
import { initParams, checkWeights, countParams } from './params.js';
import { createRng } from './rng.js';
import { samePadding } from './shape.js';

describe('GraphBuilder', () => {
  it('infers shapes and names params by scope', () => {
    const b = createGraph();
    const x = b.input('x', [2, 3, 9, 9]);
    const y = b.within('stem', () => {
      const w = b.param('weight', [8, 3, 3, 3], { kind: 'kaimingUniform', a: Math.sqrt(5) });
      return b.relu(b.conv2d(x, w, null, { stride: 2, padding: 'same' }));
    });
    expect(y.shape).toEqual([2, 8, 5, 5]);
    const g = b.build();
    expect([...g.params.keys()]).toEqual(['stem.weight']);
    expect(countParams(g)).toBe(8 * 27);
  });

  it('fails where a misshaped model is built, naming the scope', () => {
    const b = createGraph();
    const x = b.input('x', [1, 4, 8, 8]);
    expect(() => b.within('block', () => b.conv2d(x, b.param('w', [8, 3, 3, 3], { kind: 'zeros' })))).toThrow(
      /conv2d: weight \[8,3,3,3\] expects 3 input channels, input has 4 \(in block\)/,
    );
    expect(() => b.add(x, b.input('y', [1, 5, 8, 8]))).toThrow(/do not broadcast/);
    expect(() => b.reshape(x, [3, -1])).toThrow(/cannot reshape/);
  });

  it('shares a param asked for twice and refuses a second shape', () => {
    const b = createGraph();
    const p1 = b.param('ln.weight', [4], { kind: 'ones' });
    expect(b.param('ln.weight', [4], { kind: 'ones' })).toBe(p1);
    expect(() => b.param('ln.weight', [5], { kind: 'ones' })).toThrow(/exists as \[4\]/);
  });

  it('prunes to what the outputs need', () => {
    const b = createGraph();
    const x = b.input('x', [4]);
    const unused = b.input('u', [4]);
    b.output('y', b.exp(x));
    b.output('z', b.exp(unused));
    const g = prune(b.build(), ['y']);
    expect([...g.inputs.keys()]).toEqual(['x']);
  });

  it('TF same padding puts the extra pixel at the end', () => {
    expect(samePadding(224, 5, 2)).toEqual([1, 2]);
    expect(samePadding(380, 3, 2)).toEqual([0, 1]);
    expect(samePadding(7, 3, 1)).toEqual([1, 1]);
  });
});

describe('params', () => {
  it('initialises deterministically per name, independent of other params', () => {
    const mk = (extra: boolean) => {
      const b = createGraph();
      if (extra) b.param('a', [10, 10], { kind: 'normal', mean: 0, std: 1 });
      b.param('w', [16, 8], { kind: 'kaimingUniform', a: Math.sqrt(5) });
      return initParams(b.build(), 7).get('w')!.data;
    };
    expect(Array.from(mk(false))).toEqual(Array.from(mk(true)));
    // kaiming uniform(a = sqrt 5) bound is 1/sqrt(fanIn)
    expect(Math.max(...Array.from(mk(false)).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(8));
  });

  it('lists missing, misshaped and unexpected weights by name', () => {
    const b = createGraph();
    b.param('a', [2], { kind: 'zeros' });
    b.param('b', [3], { kind: 'zeros' });
    const g = b.build();
    const w = new Map([
      ['b', { dtype: 'float32' as const, shape: [4], data: new Float32Array(4) }],
      ['c', { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) }],
    ]);
    expect(() => checkWeights(g, w)).toThrow(/1 missing: a; 1 misshaped: b \(file \[4\], model \[3\]\); 1 unexpected: c/);
  });

  it('rng state can be saved and restored exactly', () => {
    const r = createRng(42);
    r.normal();
    const saved = r.state();
    const a = [r.normal(), r.uniform(), r.normal()];
    const r2 = createRng(saved);
    expect([r2.normal(), r2.uniform(), r2.normal()]).toEqual(a);
    // moments of 20k normals
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const m = xs.reduce((p, v) => p + v, 0) / xs.length;
    const v = xs.reduce((p, x) => p + (x - m) ** 2, 0) / xs.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});
