import { GraphBuilder, initParams, tensor, zeros, type Graph, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend, type TfjsBackend } from './backend.js';
import { numTensors, values } from './testing/utils.js';

const f32 = (shape: number[], seed: number): TensorData =>
  tensor(
    shape,
    values(
      shape.reduce((p, d) => p * d, 1),
      seed,
    ),
  );

/** conv (params w, b) -> relu -> global mean, plus a second head on another input. */
function convGraph(batch = 2): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', [batch, 3, 6, 5]);
  const w = b.param('w', [4, 3, 3, 3], { kind: 'uniform', low: -0.5, high: 0.5 });
  const bias = b.param('b', [4], zeros);
  const y = b.relu(b.conv2d(x, w, bias, { padding: 1 }));
  b.output('feat', y);
  b.output('pooled', b.reshape(b.globalAvgPool(y), [0, -1]));
  b.output('other', b.mul(b.input('z', [3]), 2));
  return b.build();
}

describe('TfjsSession', () => {
  let cpu: TfjsBackend;
  let wasm: TfjsBackend;
  beforeAll(async () => {
    cpu = await createTfjsBackend({ prefer: ['tfjs-cpu'] });
    wasm = await createTfjsBackend({ prefer: ['tfjs-wasm'] });
  });

  it('binds params once, prunes to the requested outputs, frees everything on dispose', async () => {
    const graph = convGraph();
    const params = initParams(graph, 7);
    const before = numTensors();
    const s = await wasm.prepare(graph, { params, outputs: ['pooled'] });
    expect(s.backend).toBe('tfjs-wasm');
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['pooled']);
    const resident = numTensors();
    expect(resident - before).toBe(2); // w and b; no constants in this graph
    const x = f32([2, 3, 6, 5], 1);
    const got = await s.run({ x });
    expect(Object.keys(got)).toEqual(['pooled']);
    const want = evaluateReference(graph, { x }, { params, outputs: ['pooled'] })['pooled']!;
    expect(got['pooled']!.shape).toEqual([2, 4]);
    expect(maxRelError(got['pooled']!.data, want.data)).toBeLessThanOrEqual(1e-5);
    expect(numTensors()).toBe(resident);
    await s.dispose();
    await s.dispose();
    expect(numTensors()).toBe(before);
    await expect(s.run({ x })).rejects.toThrow(/disposed/);
  });

  it('takes unbound params as inputs', async () => {
    const graph = convGraph();
    const params = initParams(graph, 3);
    const s = await cpu.prepare(graph, { outputs: ['feat'] });
    expect(s.inputNames).toEqual(['b', 'w', 'x']);
    const x = f32([2, 3, 6, 5], 2);
    const got = await s.run({ x, w: params.get('w')!, b: params.get('b')! });
    const want = evaluateReference(graph, { x }, { params, outputs: ['feat'] })['feat']!;
    expect(maxRelError(got['feat']!.data, want.data)).toBeLessThanOrEqual(1e-5);
    await s.dispose();
  });

  it('runs any batch with dynamicBatch (reshape 0/-1 resolved at run time), and only then', async () => {
    const graph = convGraph(2);
    const params = initParams(graph, 5);
    const x = f32([5, 3, 6, 5], 3);
    const dynamic = await wasm.prepare(graph, { params, outputs: ['pooled'], dynamicBatch: true });
    const got = (await dynamic.run({ x }))['pooled']!;
    expect(got.shape).toEqual([5, 4]);
    const want = evaluateReference(graph, { x }, { params, outputs: ['pooled'] })['pooled']!;
    expect(maxRelError(got.data, want.data)).toBeLessThanOrEqual(1e-5);
    await dynamic.dispose();
    const fixed = await wasm.prepare(graph, { params, outputs: ['pooled'] });
    await expect(fixed.run({ x })).rejects.toThrow(/input "x" is float32 \[5,3,6,5\], the graph expects float32 \[2,3,6,5\]/);
    await fixed.dispose();
  });

  it('keeps carried state as tensors between runs (input and param targets)', async () => {
    // s' = 0.5 s + x, w' = w - 0.1 * s' (a toy optimizer step); y = sum(s' * w')
    const b = new GraphBuilder();
    const s = b.input('s', [3]);
    const x = b.input('x', [3]);
    const w = b.param('w', [3], zeros);
    const s2 = b.add(b.mul(s, 0.5), x);
    const w2 = b.sub(w, b.mul(s2, 0.1));
    b.output('s_next', s2);
    b.output('w_next', w2);
    b.output('y', b.sumAll(b.mul(s2, w2)));
    const graph = b.build();
    const before = numTensors();
    const session = await wasm.prepare(graph, { carry: { s_next: 's', w_next: 'w' } });
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
    const xv = tensor([3], [1, 2, 3]);
    await expect(session.run({ x: xv })).rejects.toThrow(/carried state "(s|w)" is not set/);
    await expect(session.run({ x: xv, s: tensor([3], [0, 0, 0]) })).rejects.toThrow(/carried state \(use setState\)/);
    await session.setState({ s: tensor([3], [4, 0, -2]), w: tensor([3], [1, 1, 1]) });
    const steady = numTensors();
    let sv = [4, 0, -2];
    let wv = [1, 1, 1];
    for (let step = 0; step < 3; step++) {
      const out = await session.run({ x: xv });
      sv = sv.map((v, i) => 0.5 * v + [1, 2, 3][i]!);
      wv = wv.map((v, i) => v - 0.1 * sv[i]!);
      expect(out['y']!.data[0]).toBeCloseTo(
        sv.reduce((p, v, i) => p + v * wv[i]!, 0),
        5,
      );
      expect(numTensors()).toBe(steady);
    }
    const state = await session.getState();
    expect(Array.from(state['s']!.data)).toEqual(sv.map((v) => Math.fround(v)));
    expect(maxRelError(state['w']!.data, wv)).toBeLessThanOrEqual(1e-6);
    await expect(session.setState({ q: xv })).rejects.toThrow(/"q" is not carried state; carried: s, w/);
    await expect(session.setState({ s: tensor([2], [1, 2]) })).rejects.toThrow(/state "s" is float32 \[2\], the graph expects float32 \[3\]/);
    await session.dispose();
    expect(numTensors()).toBe(before);
  });

  it('rejects bad options and feeds with messages that name them', async () => {
    const graph = convGraph();
    const params = initParams(graph, 1);
    await expect(cpu.prepare(graph, { outputs: ['nope'] })).rejects.toThrow(/no output "nope"/);
    await expect(cpu.prepare(graph, { carry: { nope: 'x' } })).rejects.toThrow(/carry: "nope" is not an output/);
    await expect(cpu.prepare(graph, { carry: { feat: 'q' } })).rejects.toThrow(/carry: "q" .* is not an input or param/);
    await expect(cpu.prepare(graph, { params: new Map([['w2', params.get('w')!]]) })).rejects.toThrow(/params: "w2" is not a param/);
    const before = numTensors();
    await expect(cpu.prepare(graph, { params: new Map([['w', tensor([2], [1, 2])]]) })).rejects.toThrow(
      /param "w" is float32 \[2\], the graph expects float32 \[4,3,3,3\]/,
    );
    expect(numTensors()).toBe(before);
    const s = await cpu.prepare(graph, { params, outputs: ['other'] });
    expect(s.inputNames).toEqual(['z']);
    await expect(s.run({})).rejects.toThrow(/missing feed "z"/);
    await expect(s.run({ z: tensor([3], [1, 2, 3]), x: f32([2, 3, 6, 5], 1) })).rejects.toThrow(/feed "x" is not an input of this session; inputs: z/);
    await expect(s.run({ z: tensor([3], [1, 2, 3], 'int32') })).rejects.toThrow(/input "z" is int32 \[3\], the graph expects float32 \[3\]/);
    expect(numTensors()).toBe(before + 1); // the resident constant 2 (w and b are pruned away)
    expect(Array.from((await s.run({ z: tensor([3], [1, 2, 3]) }))['other']!.data)).toEqual([2, 4, 6]);
    await s.dispose();
  });

  it('lets sessions on different runtimes interleave (each activates its own backend)', async () => {
    const graph = convGraph();
    const params = initParams(graph, 9);
    const a = await cpu.prepare(graph, { params, outputs: ['pooled'] });
    const b = await wasm.prepare(graph, { params, outputs: ['pooled'] });
    const xs = [1, 2, 3, 4].map((seed) => f32([2, 3, 6, 5], seed));
    const runs = await Promise.all(xs.flatMap((x) => [a.run({ x }), b.run({ x })]));
    xs.forEach((x, i) => {
      const want = evaluateReference(graph, { x }, { params, outputs: ['pooled'] })['pooled']!;
      expect(maxRelError(runs[2 * i]!['pooled']!.data, want.data)).toBeLessThanOrEqual(1e-5);
      expect(maxRelError(runs[2 * i + 1]!['pooled']!.data, want.data)).toBeLessThanOrEqual(1e-5);
    });
    await a.dispose();
    await b.dispose();
  });
});
