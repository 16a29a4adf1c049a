/**
 * The Triton / KServe repository: config.pbtxt parsed back with the text-format parser and checked
 * field by field against the ONNX file's own inputs and outputs (as onnxruntime reports them);
 * the model.onnx loads and runs at a batch size of 2; replacing an entry is explicit and atomic.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '@unias/test-fixtures';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineFixture, mirrored, stack, type PipelineFixture } from '../test/fixture.js';
import {
  exportModel,
  fieldValue,
  fieldValues,
  ident,
  loadModelFiles,
  message,
  parseTextMessage,
  tritonConfigText,
  type ExportProgress,
  type LoadedModel,
  type TextMessage,
} from './index.js';

let dir: string;
let model: LoadedModel;
let fx: PipelineFixture;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-triton-'));
  model = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small' });
  fx = await loadPipelineFixture();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const io = (name: string, shape: number[]) => ({ name, dtype: 'float32' as const, shape, batchAxis: 0 });

describe('config.pbtxt', () => {
  it('GPU instances, batch size and queue delay as given; unknown kinds and bad numbers refused', () => {
    const text = tritonConfigText({
      name: 'm',
      inputs: [io('image', [1, 3, 32, 32])],
      outputs: [io('score', [1])],
      maxBatchSize: 4,
      maxQueueDelayMicroseconds: 2500,
      instanceKind: 'gpu',
      instanceCount: 2,
      gpus: [0, 1],
    });
    const c = parseTextMessage(text);
    expect(fieldValue(c, 'max_batch_size')).toBe(4);
    expect(fieldValue(c, 'dynamic_batching')).toEqual(message(['max_queue_delay_microseconds', 2500]));
    expect(fieldValues(c, 'instance_group')).toEqual([message(['count', 2], ['kind', ident('KIND_GPU')], ['gpus', [0, 1]])]);
    expect(fieldValues(c, 'parameters')).toEqual([]);
    const base = { name: 'm', inputs: [], outputs: [] };
    // @ts-expect-error: a CLI passes strings through
    expect(() => tritonConfigText({ ...base, instanceKind: 'tpu' })).toThrow(/instance kind must be "cpu" or "gpu", got "tpu"/);
    expect(() => tritonConfigText({ ...base, maxBatchSize: 0 })).toThrow(/maxBatchSize must be an integer >= 1, got 0/);
    expect(() => tritonConfigText({ ...base, gpus: [0] })).toThrow(/gpus are only for instance kind "gpu"/);
    expect(() => tritonConfigText({ ...base, name: '../x' })).toThrow(/model name "\.\.\/x" must be/);
    expect(() => tritonConfigText({ ...base, inputs: [{ ...io('x', [3]), batchAxis: null }] })).toThrow(/"x" has no leading batch dimension/);
  });
});

describe('Triton / KServe model repository (small preset)', () => {
  let written: readonly string[];
  let config: TextMessage;
  const progress: ExportProgress[] = [];
  const repo = () => join(dir, 'repo');

  beforeAll(async () => {
    const r = await exportModel({
      model,
      format: 'triton',
      out: repo(),
      name: 'unias_small',
      metadata: { thresholds: { image: 0.5 }, classes: ['bottle'] },
      onProgress: (p) => progress.push(p),
    });
    written = r.files;
    config = parseTextMessage(await readFile(join(repo(), 'unias_small', 'config.pbtxt'), 'utf8'), 'config.pbtxt');
  });

  it('lays out NAME/config.pbtxt and NAME/1/model.onnx, nothing else (no temporary folder left)', async () => {
    expect(written).toEqual([join(repo(), 'unias_small', 'config.pbtxt'), join(repo(), 'unias_small', '1', 'model.onnx')]);
    expect(await readdir(repo())).toEqual(['unias_small']);
    expect((await readdir(join(repo(), 'unias_small'))).sort()).toEqual(['1', 'config.pbtxt']);
    expect(await readdir(join(repo(), 'unias_small', '1'))).toEqual(['model.onnx']);
    expect(progress.map((p) => `${p.step}/${p.steps}`)).toEqual(['1/4', '2/4', '3/4', '4/4']);
    expect(progress[3]!.message).toMatch(/^writing .*unias_small \(config\.pbtxt, 1\/model\.onnx \d+\.\d MB\)$/);
  });

  it('config.pbtxt: platform, batching, CPU instances, and every tensor as the ONNX file declares it without the batch dim', async () => {
    expect(fieldValue(config, 'name')).toBe('unias_small');
    expect(fieldValue(config, 'platform')).toBe('onnxruntime_onnx');
    expect(fieldValue(config, 'max_batch_size')).toBe(8);
    expect(fieldValue(config, 'dynamic_batching')).toEqual(message(['max_queue_delay_microseconds', 100]));
    expect(fieldValues(config, 'instance_group')).toEqual([message(['count', 1], ['kind', ident('KIND_CPU')])]);

    const session = await ort.InferenceSession.create(join(repo(), 'unias_small', '1', 'model.onnx'), { intraOpNumThreads: 2 });
    try {
      // Each config tensor: onnxruntime's own view of the file, batch dim ('N') dropped; [N] becomes dims [1] reshaped to [].
      const expected = (metas: readonly ort.InferenceSession.ValueMetadata[]) =>
        metas.map((m) => {
          if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
          expect(m.shape[0]).toBe('N');
          expect(m.type).toBe('float32');
          const dims = m.shape.slice(1);
          return message(
            ['name', m.name],
            ['data_type', ident('TYPE_FP32')],
            ['dims', dims.length === 0 ? [1] : dims],
            ...(dims.length === 0 ? [['reshape', message(['shape', []])] as const] : []),
          );
        });
      expect(fieldValues(config, 'input')).toEqual(expected(session.inputMetadata));
      expect(fieldValues(config, 'output')).toEqual(expected(session.outputMetadata));
      expect(fieldValues(config, 'input')[0]).toEqual(message(['name', 'image'], ['data_type', ident('TYPE_FP32')], ['dims', [3, 224, 224]]));

      // model.onnx runs at a batch Triton could form.
      const batch = stack([fx.unitImage.data, mirrored(fx.unitImage.data, 224)], fx.unitImage.shape);
      const out = await session.run({ image: new ort.Tensor('float32', batch.data, [...batch.shape]) });
      expect(out['anomaly_map']!.dims).toEqual([2, 1, 224, 224]);
      expect(out['score']!.dims).toEqual([2]);
    } finally {
      await session.release();
    }
  });

  it('carries the export metadata as string parameters', () => {
    const params = new Map(
      fieldValues(config, 'parameters').map((p) => {
        const m = p as TextMessage;
        return [fieldValue(m, 'key'), fieldValue(fieldValue(m, 'value') as TextMessage, 'string_value')];
      }),
    );
    expect(Object.fromEntries(params)).toEqual({
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
      'unias.threshold.image': '0.5',
      'unias.classes': 'bottle',
    });
  });

  it('refuses to replace an existing entry unless asked; with overwrite the entry is swapped whole', async () => {
    await expect(exportModel({ model, format: 'triton', out: repo(), name: 'unias_small' })).rejects.toThrow(
      /unias_small already exists; choose another name or overwrite it/,
    );
    await writeFile(join(repo(), 'unias_small', 'stale.txt'), 'old');
    await exportModel({ model, format: 'triton', out: repo(), name: 'unias_small', overwrite: true, maxBatchSize: 2, instanceKind: 'gpu' });
    expect((await readdir(join(repo(), 'unias_small'))).sort()).toEqual(['1', 'config.pbtxt']);
    expect(await readdir(repo())).toEqual(['unias_small']);
    const c = parseTextMessage(await readFile(join(repo(), 'unias_small', 'config.pbtxt'), 'utf8'));
    expect(fieldValue(c, 'max_batch_size')).toBe(2);
    expect(fieldValues(c, 'instance_group')).toEqual([message(['count', 1], ['kind', ident('KIND_GPU')])]);
  });

  it('a repository path that cannot be a folder is a clear error', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'x');
    await expect(exportModel({ model, format: 'triton', out: join(blocker, 'repo') })).rejects.toThrow(
      /cannot create the model repository .*a-file\/repo \(ENOTDIR: a part of the path is a file, not a directory\)/,
    );
  });
});
