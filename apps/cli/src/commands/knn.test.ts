/**
 * The nearest-neighbour detector as a model like any other: `train --method knn` fits it, and eval,
 * export and serve take it. Independent truths: the distance to the nearest bank patch computed
 * by brute force in the test from the stored bank and the embedding, and the exported ONNX file
 * run by onnxruntime directly.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend } from '@unias/backend-onnx';
import { createSampleReader, loadMvtec, type Sample } from '@unias/datasets';
import { KNN_BANK, KNN_BANK_SQNORM, bindWeights, buildInferenceGraph, buildKnnEmbeddingGraph } from '@unias/model';
import { loadStoredModel } from '@unias/detector';
import { DEFAULT_METHOD_NOTE } from './train.js';
import { runCli, startServe, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';

const SIZE = 32;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let run: string;
let samples: Sample[];
let fitOut: string;
let fitErr: string;

beforeAll(async () => {
  tmp = await tempDir('knn');
  data = await tinyDataset(join(tmp.dir, 'data'));
  run = join(tmp.dir, 'knn-run');
  const config = await tinyConfigFile(tmp.dir, data, 'knn:\n  bankSize: 100\n  sigma: 1\n');
  // no --method and no training length: knn is the default (DEFAULT_METHOD_NOTE says so)
  const t = await runCli(['train', '--config', config, '--coreset', 'greedy', '--set', 'model.inputRange=signed', '--out', run, '--quiet']);
  expect(t.code, t.stderr).toBe(0);
  fitOut = t.stdout;
  fitErr = t.stderr;
  samples = (await loadMvtec({ root: data })).samples.filter((s) => s.split === 'test');
});
afterAll(async () => tmp.cleanup());

describe('unias train --method knn', () => {
  it('stores a model whose bank holds the asked number of patches, with thresholds', async () => {
    expect(fitOut).toMatch(/fitted a memory bank of 100 patches \(of 256\)/); // 16 images x 4x4 grid
    expect(fitErr).toContain(DEFAULT_METHOD_NOTE);
    const stored = await loadStoredModel(run);
    expect(stored.params.get(KNN_BANK)!.shape).toEqual([24 + 32 + 96, 100]);
    const config = stored.modelConfig;
    expect(config.method).toBe('knn');
    expect(config.inputRange).toBe('signed');
    expect(config.knn?.bankSize).toBe(100);
    const log = (await readFile(join(run, 'train.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(log.map((l) => l.type)).toEqual(['start', 'fit', 'eval', 'end']);
  });

  it("maps are each patch's distance to its nearest bank patch (brute force over the stored bank), upsampled and smoothed", async () => {
    const stored = await loadStoredModel(run);
    const config = stored.config;
    const params = stored.params;
    const tensors = stored.params;
    const backend = await createOnnxBackend();
    const emb = await backend.prepare(buildKnnEmbeddingGraph(config), { params: bindWeights(buildKnnEmbeddingGraph(config), params) });
    const full = buildInferenceGraph(config, { debugOutputs: true });
    const pipe = await backend.prepare(full, { params: bindWeights(full, params) });
    const bank = tensors.get(KNN_BANK)!.data as Float32Array;
    const [C, M] = tensors.get(KNN_BANK)!.shape as [number, number];
    expect(Array.from(tensors.get(KNN_BANK_SQNORM)!.data as Float32Array).slice(0, 3)).toEqual(
      [0, 1, 2].map((m) => Math.fround(Array.from({ length: C }, (_, c) => bank[c * M + m]! ** 2).reduce((a, b) => a + b, 0))).map((v) => expect.closeTo(v, 3)),
    );
    const reader = createSampleReader({ size: SIZE, normalize: 'none' });
    const d = await reader.read(samples[0]!);
    const image = { dtype: 'float32' as const, shape: [1, 3, SIZE, SIZE], data: d.image };
    const e = (await emb.run({ image }))['embedding']!.data as Float32Array;
    const out = await pipe.run({ image });
    const dist = out['distance_map']!.data as Float32Array;
    const P = 16; // 4x4 grid
    for (let p = 0; p < P; p++) {
      let best = Infinity;
      for (let m = 0; m < M; m++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += (e[c * P + p]! - bank[c * M + m]!) ** 2;
        best = Math.min(best, s);
      }
      expect(dist[p]).toBeCloseTo(Math.sqrt(best), 3);
    }
    const map = out['anomaly_map']!.data as Float32Array;
    expect((out['score']!.data as Float32Array)[0]).toBe(Math.max(...map));
    await emb.dispose();
    await pipe.dispose();
  });
});

describe('a knn model in eval, export and serve', () => {
  it('eval reports its metrics and no baseline (it is the baseline)', async () => {
    const r = await runCli(['eval', '--model', run, '--out', join(tmp.dir, 'eval'), '--no-report', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mean\s/m);
    expect(r.stderr).toMatch(/no nearest-neighbour baseline: the model is the nearest-neighbour detector itself/);
  });

  it('exports to one ONNX file (bank as an initializer) that gives the same maps on onnxruntime as predict', async () => {
    const onnx = join(tmp.dir, 'knn.onnx');
    const e = await runCli(['export', '--model', run, '--format', 'onnx', '--out', onnx, '--quiet']);
    expect(e.code, e.stderr).toBe(0);
    const session = await ort.InferenceSession.create(onnx);
    expect(session.inputNames).toEqual(['image']);
    const reader = createSampleReader({ size: SIZE, normalize: 'none' });
    const stored = await loadStoredModel(run);
    const graph = buildInferenceGraph(stored.config);
    const backend = await createOnnxBackend();
    const inProcess = await backend.prepare(graph, { params: bindWeights(graph, stored.params) });
    for (const s of samples.slice(0, 3)) {
      const d = await reader.read(s);
      const a = (await session.run({ image: new ort.Tensor('float32', d.image, [1, 3, SIZE, SIZE]) }))['anomaly_map']!.data as Float32Array;
      const b = (await inProcess.run({ image: { dtype: 'float32', shape: [1, 3, SIZE, SIZE], data: d.image } }))['anomaly_map']!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-6, Math.abs(b[i]!)));
      expect(worst).toBeLessThan(1e-4);
    }
    await session.release();
    await inProcess.dispose();
  });

  it('predict writes maps and scores for it', async () => {
    const out = join(tmp.dir, 'pred');
    const r = await runCli(['predict', '--model', run, samples[0]!.path, '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as unknown;
    expect(JSON.stringify(summary)).toMatch(/"score":\d/);
  });
});

describe('unias serve with a knn model', () => {
  it("serves the run directory over KServe v2: the infer score equals the exported file's on onnxruntime", async () => {
    const server = await startServe(['--model', run, '--threads', '1']);
    const url = server.url;
    try {
      const d = await createSampleReader({ size: SIZE, normalize: 'none' }).read(samples[0]!);
      const res = await fetch(`${url}/v2/models/model/infer`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          inputs: [{ name: 'image', shape: [1, 3, SIZE, SIZE], datatype: 'FP32', data: Array.from(d.image) }],
          outputs: [{ name: 'score' }],
        }),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      const served = ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data[0]!;
      const session = await ort.InferenceSession.create(join(run, 'model.onnx'));
      const direct = ((await session.run({ image: new ort.Tensor('float32', d.image, [1, 3, SIZE, SIZE]) }))['score']!.data as Float32Array)[0]!;
      await session.release();
      expect(Math.abs(served - direct)).toBeLessThan(1e-5 * Math.max(1, Math.abs(direct)));
    } finally {
      await server.stop();
    }
  });
});

describe('the baseline beside a UniAS model', () => {
  it('eval shows a knn detector on the same backbone beside the model, computed once and then cached', async () => {
    const config = await tinyConfigFile(tmp.dir, data);
    const uni = join(tmp.dir, 'uni-run');
    const t = await runCli(['train', '--config', config, '--steps', '2', '--out', uni, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const first = await runCli(['eval', '--model', uni, '--out', join(tmp.dir, 'uni-eval'), '--quiet']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/against the nearest normal patch \(knn\) on the same backbone: mobilenet_v2 res2\+res3\+res4 at 32x32/);
    expect(first.stdout).toMatch(/^mean\s+model\s/m);
    expect(first.stdout).toMatch(/^\s+knn\s/m);
    expect(first.stdout).not.toMatch(/\(cached\)/);
    const cmp = JSON.parse(await readFile(join(tmp.dir, 'uni-eval', 'comparison.json'), 'utf8')) as {
      model: { mean: object };
      knn: { mean: { pixel_auroc: number } };
    };
    expect(cmp.knn.mean.pixel_auroc).toBeGreaterThan(0);
    const html = await readFile(join(tmp.dir, 'uni-eval', 'report.html'), 'utf8');
    expect(html).toContain('id="comparison"');
    const again = await runCli(['eval', '--model', uni, '--out', join(tmp.dir, 'uni-eval2'), '--no-report', '--quiet']);
    expect(again.stdout).toMatch(/\(cached\)/);
    const cmp2 = JSON.parse(await readFile(join(tmp.dir, 'uni-eval2', 'comparison.json'), 'utf8')) as typeof cmp;
    expect(cmp2.knn).toEqual(cmp.knn);
  });
});
