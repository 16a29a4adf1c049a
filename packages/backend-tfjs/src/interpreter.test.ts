import * as tf from '@tensorflow/tfjs';
import { GraphBuilder, zeros, type Sym } from '@unias/graph';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfRunner, runGraphTf } from './interpreter.js';
import { numTensors, useRuntime, values } from './testing/utils.js';

describe('runGraphTf', () => {
  beforeAll(async () => {
    await useRuntime('tfjs-wasm');
  });

  it('hands out fresh tensors the caller owns and frees everything else', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    const y = b.tanh(b.mul(b.exp(x), 0.5));
    b.output('x', x); // an input as an output
    b.output('y', y);
    b.output('y2', y); // one node under two names
    const graph = b.build();
    const feed = tf.tensor(values(6, 1), [2, 3]);
    const before = numTensors();
    const out = runGraphTf(graph, { x: feed });
    expect(numTensors()).toBe(before + 3);
    expect(out['x']).not.toBe(feed);
    expect(out['y']).not.toBe(out['y2']);
    const want = Array.from(feed.dataSync(), (v) => Math.tanh(Math.exp(v) * 0.5));
    for (const name of ['y', 'y2']) {
      Array.from(out[name]!.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    }
    for (const t of Object.values(out)) t.dispose();
    expect(feed.isDisposed).toBe(false);
    expect(numTensors()).toBe(before);
    feed.dispose();
  });

  it('differentiates with tf.variableGrads (params as variables): least squares against its closed form', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [6, 3]);
    const target = b.input('t', [6, 1]);
    const w = b.param('w', [3, 1], zeros);
    const bias = b.param('b', [1], zeros);
    const residual = b.sub(b.add(b.matmul(x, w), bias), target);
    b.output('loss', b.meanAll(b.mul(residual, residual)));
    const graph = b.build();
    const xv = values(18, 2);
    const tv = values(6, 3);
    const wv = values(3, 4);
    const params = new Map([
      ['w', tf.variable(tf.tensor(wv, [3, 1]), true, 'w')],
      ['b', tf.variable(tf.tensor([0.25], [1]), true, 'b')],
    ]);
    const feeds = { x: tf.tensor(xv, [6, 3]), t: tf.tensor(tv, [6, 1]) };
    const before = numTensors();
    const { value, grads } = tf.variableGrads(() => runGraphTf(graph, feeds, params)['loss'] as tf.Scalar);
    // dL/dw = 2/N X^T r, dL/db = 2/N sum r, r = Xw + b - t
    const r = Array.from({ length: 6 }, (_, i) => xv[i * 3]! * wv[0]! + xv[i * 3 + 1]! * wv[1]! + xv[i * 3 + 2]! * wv[2]! + 0.25 - tv[i]!);
    const dw = [0, 1, 2].map((j) => (2 / 6) * r.reduce((p, ri, i) => p + xv[i * 3 + j]! * ri, 0));
    const db = (2 / 6) * r.reduce((p, ri) => p + ri, 0);
    expect(value.dataSync()[0]).toBeCloseTo(r.reduce((p, ri) => p + ri * ri, 0) / 6, 5);
    Array.from(grads['w']!.dataSync()).forEach((g, j) => expect(g).toBeCloseTo(dw[j]!, 5));
    expect(grads['b']!.dataSync()[0]).toBeCloseTo(db, 5);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    expect(numTensors()).toBe(before);
    for (const t of [...params.values(), ...Object.values(feeds)]) t.dispose();
  });

  it('checks feeds and names the node when a kernel fails', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 6]);
    b.within('head', () => {
      b.output('y', b.reshape(x, [0, 3, 2]));
      b.output('flat', b.reshape(x, [4, -1])); // not batch-generic: fails at batch 3
    });
    const graph = b.build();
    const good = tf.tensor(values(12, 1), [2, 6]);
    const before = numTensors();
    expect(() => runGraphTf(graph, {})).toThrow(/input "x" \[2,6\] was not fed/);
    expect(() => runGraphTf(graph, { x: good, q: good })).toThrow(/feed "q" is not an input or param/);
    const odd = tf.tensor(values(10, 1), [2, 5]);
    expect(() => runGraphTf(graph, { x: odd })).toThrow(/input "x" is float32 \[2,5\], the graph expects float32 \[2,6\]/);
    // With a dynamic batch the feed passes the check; a reshape that is not batch-generic then
    // fails at run time, named with its scope.
    const three = tf.tensor(values(18, 1), [3, 6]);
    expect(() => runGraphTf(graph, { x: three }, undefined, { dynamicBatch: true })).toThrow(/reshape #\d+ in head \[4,3\] failed on inputs \[3,6\]/);
    expect(numTensors()).toBe(before + 2);
    const y = runGraphTf(graph, { x: three }, undefined, { dynamicBatch: true, outputs: ['y'] })['y']!;
    expect(y.shape).toEqual([3, 3, 2]);
    tf.dispose([good, odd, three, y]);
  });

  it('keeps constants resident in a runner, across runs and under tf.grads', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 1, 5, 5]);
    const blur = b.constant(
      [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16),
      [1, 1, 3, 3],
    );
    b.output('y', b.mul(b.conv2d(x, blur, null, { padding: 1 }), 0.5));
    const graph = b.build();
    const feed = tf.tensor(values(25, 5), [1, 1, 5, 5]);
    const before = numTensors();
    const runner = createTfRunner(graph);
    const want = runGraphTf(graph, { x: feed })['y']!;
    for (let i = 0; i < 3; i++) {
      const y = runner.run({ x: feed })['y']!;
      expect(Array.from(y.dataSync())).toEqual(Array.from(want.dataSync()));
      y.dispose();
      expect(numTensors()).toBe(before + 1 + 2); // `want` and the two resident constants
    }
    const g = tf.grad((v: tf.Tensor) => tf.sum(runner.run({ x: v })['y']!))(feed);
    // d/dx sum(0.5 * blur(x)) = 0.5 * (sum of the kernel taps that reach each pixel)
    expect(g.dataSync()[12]).toBeCloseTo(0.5, 6);
    expect(g.dataSync()[0]).toBeCloseTo((0.5 * (4 + 2 + 2 + 1)) / 16, 6);
    tf.dispose([g, want]);
    runner.dispose();
    expect(numTensors()).toBe(before);
    expect(() => runner.run({ x: feed })).toThrow(/disposed/);
    feed.dispose();
  });

  it('frees each intermediate after its last use (peak memory of a 12-op chain stays at ~3 tensors)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [256, 256]);
    let y: Sym = x;
    for (let i = 0; i < 6; i++) y = b.tanh(b.exp(b.neg(y)));
    b.output('y', y);
    const graph = b.build();
    const feed = tf.tensor(values(256 * 256, 9), [256, 256]);
    const bytes = 256 * 256 * 4;
    const profile = await tf.profile(() => {
      runGraphTf(graph, { x: feed })['y']!.dispose();
    });
    // feed + the value being consumed + the one being made (+ slack for kernel temporaries);
    // keeping every intermediate would peak at 13 tensors.
    expect(profile.peakBytes - bytes).toBeLessThanOrEqual(3 * bytes);
    expect(profile.kernels.length).toBe(18);
    feed.dispose();
  });
});
