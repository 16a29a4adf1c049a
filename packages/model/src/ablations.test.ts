/**
 * Every ablation switch builds and runs (ORT), on the cpu preset's widths at 128x128 with random
 * weights and features; switches that must change the result with the same weights do.
 */
import { createRng, initParams, type Graph, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { createOnnxBackend, type OnnxBackend } from '@unias/backend-onnx';
import { ADAPTOR_KINDS } from '@unias/mgg-cnn';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRESETS, buildHeadGraph, resolveConfig, type ModelConfig } from './index.js';

let backend: OnnxBackend;
beforeAll(async () => {
  backend = await createOnnxBackend();
});

const base: ModelConfig = { ...PRESETS.cpu, inputSize: 128 };

function randomFeeds(graph: Graph, seed: number): Record<string, TensorData> {
  const rng = createRng(seed);
  const feeds: Record<string, TensorData> = {};
  for (const [name, input] of graph.inputs) {
    const n = input.shape.reduce((a, d) => a * d, 1);
    feeds[name] = { dtype: 'float32', shape: input.shape, data: rng.fillUniform(new Float32Array(n), -1, 1) };
  }
  return feeds;
}

async function run(config: ModelConfig): Promise<{ graph: Graph; out: Record<string, TensorData>; params: Map<string, TensorData> }> {
  const graph = buildHeadGraph(resolveConfig(config));
  const params = initParams(graph, 1);
  const session = await backend.prepare(graph, { params });
  try {
    return { graph, out: await session.run(randomFeeds(graph, 2)), params };
  } finally {
    await session.dispose();
  }
}

function checkOutputs(out: Record<string, TensorData>, levels: number, size: [number, number] = [128, 128]): void {
  expect(out.anomaly_map!.shape).toEqual([1, 1, ...size]);
  expect(out.anomaly_map!.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  expect(Object.keys(out).filter((k) => k.startsWith('recon.')).length).toBe(levels);
  expect(Number.isFinite(out.loss!.data[0])).toBe(true);
}

describe('ablations', () => {
  for (const adaptor of ADAPTOR_KINDS) {
    it(`adaptor ${adaptor}`, async () => {
      const { graph, out } = await run({ ...base, adaptor });
      checkOutputs(out, 4);
      const names = [...graph.params.keys()].filter((k) => k.includes('layer_adaptors.0.'));
      expect(names.length === 0).toBe(adaptor === 'identity');
    });
  }

  for (const levels of [1, 2, 3]) {
    it(`${levels} level${levels > 1 ? 's' : ''} (the coarsest taps)`, async () => {
      const { graph, out } = await run({ ...base, levels });
      checkOutputs(out, levels);
      expect([...graph.inputs.keys()].filter((k) => k.startsWith('target.')).sort()).toEqual(
        ['res4', 'res3', 'res2']
          .slice(0, levels)
          .map((t) => `target.${t}`)
          .sort(),
      );
    });
  }

  it('a non-square input (160x224: a 10x14 query grid)', async () => {
    const { graph, out } = await run({ ...base, inputSize: [160, 224] });
    checkOutputs(out, 4, [160, 224]);
    expect(graph.params.get('sem_seg_head.predictor.spatial_query_feat.weight')!.shape).toEqual([280, 32]);
    expect(out['recon.3']!.shape).toEqual([1, 16, 80, 112]);
  });

  it('spatial-only attention, and the UniAD-like baseline preset', async () => {
    checkOutputs((await run({ ...base, attention: 'spatial' })).out, 4);
    checkOutputs((await run({ ...PRESETS['uniad-baseline'], convDim: 32, hidden: 32, maskDim: 16, dimFeedforward: 64, inputSize: 128 })).out, 1);
  });

  it('neighbour mask size and post-Gaussian change the map with the same weights', async () => {
    const ref = (await run(base)).out;
    const noMask = (await run({ ...base, neighbourSize: 0 })).out;
    const mask3 = (await run({ ...base, neighbourSize: 3 })).out;
    const noBlur = (await run({ ...base, postGaussian: false })).out;
    checkOutputs(noMask, 4);
    for (const other of [noMask, mask3]) expect(maxRelError(other['recon.0']!.data, ref['recon.0']!.data)).toBeGreaterThan(1e-3);
    expect(maxRelError(noBlur['recon.3']!.data, ref['recon.3']!.data)).toBe(0);
    expect(maxRelError(noBlur.anomaly_map!.data, ref.anomaly_map!.data)).toBeGreaterThan(1e-3);
  });

  it('an ablated head (light adaptor, spatial only, 2 levels) on ORT matches the float64 reference', async () => {
    const { graph, out, params } = await run({ ...base, adaptor: 'mgg-cnn-light', attention: 'spatial', levels: 2 });
    const expected = evaluateReference(graph, randomFeeds(graph, 2), { params });
    for (const name of ['recon.0', 'recon.1', 'anomaly_map', 'loss']) expect(maxRelError(out[name]!.data, expected[name]!.data), name).toBeLessThan(1e-4);
  });
});
