/**
 * The exported ONNX file against two truths: the official code's final map for the fixture image
 * (small preset, fixture weights), and the same pipeline graph run in-process on the ORT backend.
 * The file runs at batch 1 and 3 from disk, in a plain onnxruntime session.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOnnxBackend } from '@unias/backend-onnx';
import { maxRelError } from '@unias/graph/testing';
import { buildInferenceGraph, presetConfig } from '@unias/model';
import { FIXTURES } from '@unias/test-fixtures';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineFixture, maxAbsDiff, mirrored, stack, type PipelineFixture } from '../test/fixture.js';
import { exportModel, loadModelFiles, readExportMetadata, type ExportProgress, type LoadedModel } from './index.js';

let dir: string;
let fx: PipelineFixture;
let model: LoadedModel;
let file: string;
let session: ort.InferenceSession;
const progress: ExportProgress[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-onnx-'));
  fx = await loadPipelineFixture();
  // As `unias export --preset small --backbone efficientnet-b4 --weights B --weights H` does it.
  model = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small', overrides: { backbone: 'efficientnet-b4' } });
  file = join(dir, 'nested', 'model.onnx');
  await exportModel({
    model,
    format: 'onnx',
    out: file,
    metadata: { thresholds: { image: 0.4375, pixel: 0.3125, source: 'fixed for tests' }, classes: ['bottle', 'wood'] },
    onProgress: (p) => progress.push(p),
  });
  session = await ort.InferenceSession.create(file, { intraOpNumThreads: 2 });
});

afterAll(async () => {
  await session?.release();
  await rm(dir, { recursive: true, force: true });
});

async function runFile(image: { data: Float32Array; shape: readonly number[] }) {
  const out = await session.run({ image: new ort.Tensor('float32', image.data, [...image.shape]) });
  const map = out['anomaly_map']!;
  const score = out['score']!;
  return { map: map.data as Float32Array, mapDims: [...map.dims], score: score.data as Float32Array, scoreDims: [...score.dims] };
}

describe('ONNX export of the whole pipeline (small preset, fixture weights)', () => {
  it('declares exactly the contract: image [N,3,224,224] -> anomaly_map [N,1,224,224], score [N], float32', () => {
    expect(session.inputMetadata).toEqual([{ name: 'image', isTensor: true, type: 'float32', shape: ['N', 3, 224, 224] }]);
    expect(session.outputMetadata).toEqual([
      { name: 'anomaly_map', isTensor: true, type: 'float32', shape: ['N', 1, 224, 224] },
      { name: 'score', isTensor: true, type: 'float32', shape: ['N'] },
    ]);
  });

  it('writes exactly the metadata keys of docs/exported-model.md', async () => {
    const meta = await readExportMetadata(file);
    expect(meta.raw).toEqual({
      'unias.format': '1',
      'unias.input_size': '224,224',
      'unias.preset': 'small',
      'unias.backbone': 'efficientnet-b4',
      'unias.method': 'unias',
      'unias.input_range': 'backbone',
      'unias.preprocess.resize': 'linear',
      'unias.preprocess.fit': 'fill',
      'unias.preprocess.orientation': 'exif',
      'unias.preprocess.colour': 'rgb',
      'unias.preprocess.alpha': 'black',
      'unias.preprocess.range': '0,1',
      'unias.precision': 'float32',
      'unias.threshold.image': '0.4375',
      'unias.threshold.pixel': '0.3125',
      'unias.threshold.source': 'fixed for tests',
      'unias.classes': 'bottle,wood',
    });
    expect(meta.inputSize).toEqual([224, 224]);
    expect(meta.thresholds).toEqual({ image: 0.4375, pixel: 0.3125, source: 'fixed for tests' });
    expect(meta.classes).toEqual(['bottle', 'wood']);
    expect(meta.precision).toBe('float32');
    expect(meta.calibration).toBeUndefined();
  });

  it('batch 1: the map matches the official code within 1e-4, the score is its max', async () => {
    const out = await runFile(fx.unitImage);
    expect(out.mapDims).toEqual([1, 1, 224, 224]);
    expect(out.scoreDims).toEqual([1]);
    const err = maxRelError(out.map, fx.pred.data);
    console.log(`exported ONNX vs official fixture output.pred: max rel error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    let max = -Infinity;
    for (const v of fx.pred.data) max = Math.max(max, v);
    expect(Math.abs(out.score[0]! - max) / max).toBeLessThan(1e-4);
  });

  it('batch 3: agrees with the same graph run in-process on the ORT backend within 1e-4, each image with its batch-1 result', async () => {
    const w = 224;
    const noise = new Float32Array(fx.unitImage.data.length);
    for (let i = 0; i < noise.length; i++) noise[i] = Math.abs(Math.sin(i * 12.9898) * 43758.5453) % 1;
    const batch = stack([fx.unitImage.data, mirrored(fx.unitImage.data, w), noise], fx.unitImage.shape);
    const exported = await runFile(batch);
    expect(exported.mapDims).toEqual([3, 1, 224, 224]);
    expect(exported.scoreDims).toEqual([3]);

    const graph = buildInferenceGraph(presetConfig('small'));
    const backend = await createOnnxBackend();
    const inProcess = await backend.prepare(graph, { params: model.params, dynamicBatch: true });
    try {
      const ref = await inProcess.run({ image: batch });
      const mapErr = maxRelError(exported.map, ref['anomaly_map']!.data);
      const scoreErr = maxRelError(exported.score, ref['score']!.data);
      console.log(`exported ONNX vs in-process ORT backend (batch 3): map ${mapErr.toExponential(2)}, score ${scoreErr.toExponential(2)}`);
      expect(mapErr).toBeLessThan(1e-4);
      expect(scoreErr).toBeLessThan(1e-4);
    } finally {
      await inProcess.dispose();
    }
    const n = 224 * 224;
    expect(maxRelError(exported.map.subarray(0, n), fx.pred.data)).toBeLessThan(1e-4);
    for (let i = 0; i < 3; i++) {
      const single = await runFile({ data: batch.data.slice(i * 3 * n, (i + 1) * 3 * n), shape: [1, 3, 224, 224] });
      expect(maxAbsDiff(single.map, exported.map.subarray(i * n, (i + 1) * n)) / Math.max(...single.map)).toBeLessThan(1e-5);
      expect(single.score[0]).toBeCloseTo(exported.score[i]!, 5);
    }
    // Three different images give three different maps (the batch is not one image repeated).
    expect(maxAbsDiff(exported.map.subarray(0, n), exported.map.subarray(2 * n))).toBeGreaterThan(1e-3);
  });

  it('reports progress in order, ending with the write', () => {
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(progress.every((p) => p.steps === 4)).toBe(true);
    expect(progress.at(-1)!.message).toMatch(/^writing .*model\.onnx \(\d+\.\d MB\)$/);
  });
});
