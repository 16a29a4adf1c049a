import { createGraph, createRng, drawRandomFeeds, grad, initParams, type Graph, type TensorData } from '@unias/graph';
import { createOnnxBackend } from '@unias/backend-onnx';
import { describe, expect, it } from 'vitest';
import { TAPS, loadFixture } from '../test/fixture-data.js';
import { PRESETS, buildHeadGraph, buildTrainingGraph, buildTrainingLoss, resolveConfig } from './index.js';

const released = resolveConfig({ ...PRESETS.small, loss: { weight: 10, cosine: 'released' } });

/** Feeds for every random input: dropout masks all "keep" (1), jitter coins as given, noise from a seed. */
function neutralRandom(graph: Graph, apply: number, seed: number): Record<string, TensorData> {
  const drawn = drawRandomFeeds(graph, createRng(seed));
  const out: Record<string, TensorData> = {};
  for (const [name, spec] of graph.random) {
    const t = drawn[name]!;
    if (spec.kind === 'dropout') out[name] = { ...t, data: new Float32Array(t.data.length).fill(1) };
    else if (spec.kind === 'bernoulli') out[name] = { ...t, data: new Float32Array(t.data.length).fill(apply) };
    else out[name] = t;
  }
  return out;
}

describe('training graph', () => {
  it('has dropout masks in every attention and FFN and a jitter coin and noise per tap, as random inputs', () => {
    const g = buildTrainingGraph(released, { batchSize: 2 });
    const random = [...g.random.entries()];
    const dropouts = random.filter(([, s]) => s.kind === 'dropout');
    // encoder: 3 layers x 4; decoder: 4 levels x (spatial 3 sub-layers + channel 3) x 2
    expect(dropouts.length).toBe(3 * 4 + 4 * 12);
    expect(dropouts.every(([, s]) => s.kind === 'dropout' && s.p === 0.1)).toBe(true);
    for (const t of TAPS) {
      expect(g.random.get(`jitter.${t}.apply`)).toEqual({ kind: 'bernoulli', p: 0.5 });
      expect(g.random.get(`jitter.${t}.noise`)).toEqual({ kind: 'normal', gate: `jitter.${t}.apply` });
      expect(g.inputs.get(`jitter.${t}.noise`)!.shape).toEqual(g.inputs.get(`decoder_input.${t}`)!.shape);
    }
    expect([...g.outputs.keys()]).toEqual(['loss', ...[0, 1, 2, 3].flatMap((i) => [`loss.level${i}`, `mse.level${i}`, `cos.level${i}`])]);
    expect([...g.params.values()].every((p) => p.trainable && p.name.startsWith('sem_seg_head.'))).toBe(true);
  });

  it('from images: the backbone is in the graph, frozen', () => {
    const g = buildTrainingGraph(PRESETS.cpu, { batchSize: 1, from: 'image' });
    const backbone = [...g.params.values()].filter((p) => p.name.startsWith('backbone.'));
    expect(backbone.length).toBeGreaterThan(50);
    expect(backbone.every((p) => !p.trainable)).toBe(true);
    expect(g.inputs.get('image')!.shape).toEqual([1, 3, 256, 256]);
  });

  it('with dropout kept and no jitter it computes the eval loss; with jitter, the loss of the jittered features (ORT)', async () => {
    const fx = await loadFixture();
    const backend = await createOnnxBackend();
    const train = buildTrainingGraph(released, { batchSize: 1 });
    const evalGraph = buildHeadGraph(released);
    const features = fx.featureFeeds();
    const [ts, es] = await Promise.all([backend.prepare(train, { params: fx.params(train) }), backend.prepare(evalGraph, { params: fx.params(evalGraph) })]);
    try {
      const plain = await ts.run({ ...features, ...neutralRandom(train, 0, 1) });
      const expected = fx.tensor('output.loss').data[0]!;
      expect(Math.abs(plain.loss!.data[0]! - expected) / expected).toBeLessThan(1e-5);

      const random = neutralRandom(train, 1, 2);
      const jittered = await ts.run({ ...features, ...random });
      // the same jitter applied in JS to the eval graph's inputs
      const feeds = { ...features };
      for (const t of TAPS) {
        const u = features[`decoder_input.${t}`]!;
        const noise = random[`jitter.${t}.noise`]!;
        const [, c, h, w] = u.shape as [number, number, number, number];
        const out = new Float32Array(u.data.length);
        for (let p = 0; p < h * w; p++) {
          let sq = 0;
          for (let k = 0; k < c; k++) sq += u.data[k * h * w + p]! ** 2;
          for (let k = 0; k < c; k++) out[k * h * w + p] = u.data[k * h * w + p]! + noise.data[k * h * w + p]! * (Math.sqrt(sq) / c) * 20;
        }
        feeds[`decoder_input.${t}`] = { dtype: 'float32', shape: u.shape, data: out };
      }
      const viaEval = (await es.run(feeds)).loss!.data[0]!;
      expect(Math.abs(jittered.loss!.data[0]! - viaEval) / viaEval).toBeLessThan(1e-5);
      expect(Math.abs(jittered.loss!.data[0]! - expected) / expected).toBeGreaterThan(1e-3);
    } finally {
      await ts.dispose();
      await es.dispose();
    }
  });

  it('differentiates with respect to every head parameter (a finite gradient for each, ORT)', async () => {
    const c = resolveConfig({ ...PRESETS.cpu, inputSize: 128 });
    const b = createGraph({ training: true });
    const { loss } = buildTrainingLoss(b, c, { batchSize: 2 });
    const forward = b.build();
    const params = [...forward.params.values()].filter((p) => p.trainable);
    grad(b, loss, params).forEach((g, i) => b.output(`grad.${params[i]!.name}`, g));
    b.output('loss', loss);
    const graph = b.build();
    const values = initParams(graph, 3);
    const rng = createRng(5);
    const feeds: Record<string, TensorData> = { ...drawRandomFeeds(graph, rng) };
    for (const [name, input] of graph.inputs) {
      if (graph.random.has(name)) continue;
      const n = input.shape.reduce((a, d) => a * d, 1);
      feeds[name] = { dtype: 'float32', shape: input.shape, data: rng.fillUniform(new Float32Array(n), -1, 1) };
    }
    const session = await (await createOnnxBackend()).prepare(graph, { params: values });
    try {
      const out = await session.run(feeds);
      expect(Number.isFinite(out.loss!.data[0])).toBe(true);
      let nonzero = 0;
      for (const p of params) {
        const g = out[`grad.${p.name}`]!;
        expect(g.data.every(Number.isFinite), p.name).toBe(true);
        if (g.data.some((v) => v !== 0)) nonzero++;
      }
      expect(nonzero).toBe(params.length);
    } finally {
      await session.dispose();
    }
  });
});
