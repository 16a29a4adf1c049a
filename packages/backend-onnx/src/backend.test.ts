import { BackendRegistry, createGraph, createRng, initParams, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError, uniform } from '@unias/graph/testing';
import { buildTestNet } from '@unias/onnx-lowering/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend, onnxBackendCandidates, type OnnxBackend } from './index.js';

let backend: OnnxBackend;
beforeAll(async () => {
  backend = await createOnnxBackend({ intraOpNumThreads: 1 });
});

const graph2 = buildTestNet(2);
const params = initParams(graph2, 7);

/** Per-sample images, so a batch of any size is the first n of them. */
const rng = createRng(11);
const samples = Array.from({ length: 3 }, () => uniform(rng, [1, 3, 9, 8]).data);
function images(n: number): TensorData {
  const data = new Float32Array(n * samples[0]!.length);
  for (let i = 0; i < n; i++) data.set(samples[i]!, i * samples[0]!.length);
  return { dtype: 'float32', shape: [n, 3, 9, 8], data };
}

function expectClose(actual: Record<string, TensorData>, expected: ReturnType<typeof evaluateReference>, tol = 1e-5): number {
  let worst = 0;
  for (const [name, e] of Object.entries(expected)) {
    const a = actual[name];
    expect(a, name).toBeDefined();
    expect(a!.shape, name).toEqual(e.shape);
    const err = maxRelError(a!.data, e.data);
    expect(err, name).toBeLessThanOrEqual(tol);
    worst = Math.max(worst, err);
  }
  return worst;
}

describe('a small network on ONNX Runtime', () => {
  const feeds = { image: images(2) };
  const reference = evaluateReference(graph2, feeds, { params });

  it('matches the reference with params bound as initializers', async () => {
    const session = await backend.prepare(graph2, { params });
    expect(session.inputNames).toEqual(['image']);
    expect([...session.outputNames].sort()).toEqual(['features', 'logits', 'score', 'similarity']);
    expectClose(await session.run(feeds), reference);
    await session.dispose();
  });

  it('matches the reference with params fed at run time', async () => {
    const session = await backend.prepare(graph2);
    expect([...session.inputNames].sort()).toEqual(['image', ...graph2.params.keys()].sort());
    expectClose(await session.run({ ...feeds, ...Object.fromEntries(params) }), reference);
    await session.dispose();
  });

  it('computes only the requested outputs', async () => {
    const session = await backend.prepare(graph2, { params, outputs: ['score'] });
    expect(session.outputNames).toEqual(['score']);
    const out = await session.run(feeds);
    expect(Object.keys(out)).toEqual(['score']);
    expectClose(out, { score: reference.score! });
    await session.dispose();
  });

  it('gives the same results with graph optimisation off', async () => {
    const plain = await createOnnxBackend({ intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    const session = await plain.prepare(graph2, { params });
    expectClose(await session.run(feeds), reference);
    await session.dispose();
  });

  it('runs a graph exported at batch 2 with batch 1 and 3 (dynamicBatch)', async () => {
    const session = await backend.prepare(graph2, { params, dynamicBatch: true });
    for (const n of [1, 3, 2]) {
      // Truth: the same model built at batch n, evaluated by the reference.
      const expected = evaluateReference(buildTestNet(n), { image: images(n) }, { params });
      const out = await session.run({ image: images(n) });
      expect(out.logits!.shape).toEqual([n, 4]);
      expect(out.score!.shape).toEqual([]);
      expectClose(out, expected);
    }
    await session.dispose();
  });

  it('rejects feeds of the wrong shape, dtype or name, naming them', async () => {
    const fixed = await backend.prepare(graph2, { params });
    await expect(fixed.run({ image: images(3) })).rejects.toThrow(/feed "image": got float32 \[3,3,9,8\], expected float32 \[2,3,9,8\]/);
    await expect(fixed.run({})).rejects.toThrow(/missing feed "image"/);
    await expect(fixed.run({ image: images(2), imag: images(2) })).rejects.toThrow(/feed "imag" is not an input/);
    const asInt: TensorData = { dtype: 'int32', shape: [2, 3, 9, 8], data: new Int32Array(2 * 3 * 9 * 8) };
    await expect(fixed.run({ image: asInt })).rejects.toThrow(/expected float32 \[2,3,9,8\]/);
    await fixed.dispose();
    await expect(fixed.run({ image: images(2) })).rejects.toThrow(/after dispose/);
    const dynamic = await backend.prepare(graph2, { params, dynamicBatch: true });
    await expect(dynamic.run({ image: { ...images(2), shape: [2, 3, 8, 9] } })).rejects.toThrow(/expected float32 \[N,3,9,8\]/);
    await dynamic.dispose();
  });

  it('reads feeds that are views into a larger buffer', async () => {
    const session = await backend.prepare(graph2, { params, outputs: ['logits'] });
    const whole = images(3);
    const n = whole.data.length / 3;
    const view: TensorData = { dtype: 'float32', shape: [2, 3, 9, 8], data: (whole.data as Float32Array).subarray(0, 2 * n) };
    const padded = new Float32Array(3 * n);
    padded.set(view.data, n);
    const offset: TensorData = { dtype: 'float32', shape: [2, 3, 9, 8], data: padded.subarray(n) };
    const a = await session.run({ image: view });
    const b = await session.run({ image: offset });
    expectClose(a, { logits: reference.logits! });
    expect([...b.logits!.data]).toEqual([...a.logits!.data]);
    await session.dispose();
  });

  it('rejects a bound param of the wrong shape, naming it', async () => {
    const bad = new Map(params);
    bad.set('stem.weight', { dtype: 'float32', shape: [8, 3, 3, 2], data: new Float32Array(144) });
    await expect(backend.prepare(graph2, { params: bad })).rejects.toThrow(
      /param "stem\.weight": bound value is float32 \[8,3,3,2\], the graph wants float32 \[8,3,3,3\]/,
    );
  });
});

describe('carried state', () => {
  // One SGD step on loss = sum(w^2) + <w, x>: w' = w - lr (2w + x).
  function sgdGraph() {
    const b = createGraph();
    const w = b.param('w', [4], { kind: 'zeros' });
    const x = b.input('x', [4]);
    b.output('loss', b.add(b.sumAll(b.mul(w, w)), b.sumAll(b.mul(w, x))));
    b.output('w_next', b.sub(w, b.mul(b.add(b.mul(w, 2), x), 0.1)));
    return b.build();
  }
  const x: TensorData = { dtype: 'float32', shape: [4], data: Float32Array.from([1, -2, 0.5, 3]) };
  const w0 = [0.5, 0.25, -1, 2];

  function expectedAfter(steps: number): { w: number[]; losses: number[] } {
    let w = [...w0];
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      losses.push(w.reduce((p, v, i) => p + v * v + v * x.data[i]!, 0));
      w = w.map((v, i) => v - 0.1 * (2 * v + x.data[i]!));
    }
    return { w, losses };
  }

  it('feeds carried outputs back as inputs between runs, and reads them with getState', async () => {
    const session = await backend.prepare(sgdGraph(), { carry: { w_next: 'w' } });
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['loss']);
    await expect(session.run({ x })).rejects.toThrow(/carried input "w" has no value; call setState/);
    const initial = Float32Array.from(w0);
    await session.setState({ w: { dtype: 'float32', shape: [4], data: initial } });
    initial.fill(99); // the session holds its own copy
    const { w, losses } = expectedAfter(3);
    // Three runs queued at once still run in order.
    const outs = await Promise.all([session.run({ x }), session.run({ x }), session.run({ x })]);
    outs.forEach((o, i) => {
      expect(Object.keys(o)).toEqual(['loss']);
      expect(o.loss!.data[0]).toBeCloseTo(losses[i]!, 5);
    });
    const state = await session.getState();
    expect(state.w!.shape).toEqual([4]);
    expect(maxRelError(state.w!.data, w)).toBeLessThan(1e-6);
    await expect(session.run({ x, w: state.w! })).rejects.toThrow(/feed "w" is carried state \(use setState\)/);
    await expect(session.setState({ x })).rejects.toThrow(/"x" is not a carried input/);
    await session.dispose();
  });

  it('rejects carry entries that do not fit the graph', async () => {
    await expect(backend.prepare(sgdGraph(), { carry: { nope: 'w' } })).rejects.toThrow(/carry: "nope" is not an output/);
    await expect(backend.prepare(sgdGraph(), { carry: { w_next: 'v' } })).rejects.toThrow(/carry: "v" is not an input or unbound param/);
    await expect(backend.prepare(sgdGraph(), { carry: { loss: 'w' } })).rejects.toThrow(/cannot feed input "w"/);
  });
});

describe('backend candidates', () => {
  it('resolves through a BackendRegistry, falling back from onnx-cuda and onnx-webgpu to onnx-cpu with a reason', async () => {
    const registry = new BackendRegistry();
    for (const c of onnxBackendCandidates({ intraOpNumThreads: 1 })) registry.register(c);
    expect(registry.names()).toEqual(['onnx-cuda', 'onnx-webgpu', 'onnx-cpu']);
    const chosen = await registry.resolve();
    expect(['onnx-cuda', 'onnx-webgpu', 'onnx-cpu']).toContain(chosen.name);
    if (chosen.name === 'onnx-cpu') {
      // This machine has no usable CUDA provider nor hardware GPU: asking for either alone says why.
      await expect(registry.resolve(['onnx-cuda'])).rejects.toThrow(/onnx-cuda \(device cuda is not available: .*(CUDA|cuda)/);
      await expect(registry.resolve(['onnx-webgpu'])).rejects.toThrow(/onnx-webgpu \(device webgpu is not available: /);
    }
    const session = await chosen.prepare(graph2, { params });
    expect(session.backend).toBe(chosen.name);
    const out = await session.run({ image: images(2) });
    expectClose(out, evaluateReference(graph2, { image: images(2) }, { params }));
    await session.dispose();
  });
});
