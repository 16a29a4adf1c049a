/** exportModel's input checks: the errors a CLI user sees name the format, path, field or tensor. */
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '@unias/graph';
import { buildInferenceGraph, presetConfig } from '@unias/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, type ExportableModel, type ExportFormat } from './index.js';

let dir: string;
let model: ExportableModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-errors-'));
  // Random weights of the pipeline: the checks run before any value matters.
  const config = { ...presetConfig('cpu'), inputSize: 224 };
  model = { config, preset: 'cpu', params: initParams(buildInferenceGraph(config), 1) };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exportModel refuses bad input before writing anything', () => {
  it('an unknown format or layout or dtype', async () => {
    await expect(exportModel({ model, format: 'tflite' as ExportFormat, out: join(dir, 'm') })).rejects.toThrow(
      /unknown export format "tflite"; known: onnx, triton, safetensors/,
    );
    // @ts-expect-error: layouts come from the command line as strings
    await expect(exportModel({ model, format: 'safetensors', layout: 'keras', out: join(dir, 'm.safetensors') })).rejects.toThrow(
      /unknown layout "keras"; known: official, unias/,
    );
    // @ts-expect-error: dtypes too
    await expect(exportModel({ model, format: 'safetensors', dtype: 'F8', out: join(dir, 'm.safetensors') })).rejects.toThrow(
      /dtype must be one of F32, F16, BF16, got "F8"/,
    );
  });

  it('an output path whose directory cannot be created, or that is a directory', async () => {
    const blocker = join(dir, 'plain-file');
    await writeFile(blocker, 'x');
    for (const format of ['onnx', 'safetensors'] as const) {
      await expect(exportModel({ model, format, out: join(blocker, 'sub', 'model.out') })).rejects.toThrow(
        /cannot create the output directory for .*plain-file\/sub\/model\.out .*plain-file\/sub \(ENOTDIR: a part of the path is a file, not a directory\)/,
      );
    }
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    await expect(exportModel({ model, format: 'onnx', out: folder })).rejects.toThrow(/out: .*a-folder is a directory; give a file path/);
  });

  it('weights that do not fit the configuration (the error names the tensors)', async () => {
    const params = new Map(model.params);
    const name = 'sem_seg_head.pixel_decoder.input_proj.weight';
    params.delete(name);
    params.set('sem_seg_head.extra.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    for (const format of ['onnx', 'triton', 'safetensors'] as const) {
      await expect(exportModel({ model: { ...model, params }, format, out: join(dir, `bad-${format}`) })).rejects.toThrow(
        new RegExp(
          `weights do not fit the model \\(preset cpu, backbone mobilenet_v2, 224x224\\): 1 missing: ${name.replace(/\./g, '\\.')}; 1 unexpected: sem_seg_head\\.extra\\.weight`,
        ),
      );
    }
    const wrong = new Map(model.params);
    wrong.set(name, { dtype: 'float32', shape: [2, 2], data: new Float32Array(4) });
    await expect(exportModel({ model: { ...model, params: wrong }, format: 'onnx', out: join(dir, 'w.onnx') })).rejects.toThrow(
      /1 misshaped: sem_seg_head\.pixel_decoder\.input_proj\.weight \(\[2,2\], model \[32,192,1,1\]\)/,
    );
  });

  it('weights trained at another input size: the error says the query grid depends on it', async () => {
    await expect(exportModel({ model: { ...model, config: { ...model.config, inputSize: 256 } }, format: 'onnx', out: join(dir, 'g.onnx') })).rejects.toThrow(
      /misshaped: sem_seg_head\.predictor\.spatial_query_embed\.weight \(\[196,32\], model \[256,32\]\).*\(the head's query grid is fixed by the input size, 16x16 here: use the inputSize the weights were trained at\)/,
    );
  });

  it('bad metadata: a class name with a comma, a threshold that is not a number, a bad config', async () => {
    await expect(exportModel({ model, format: 'onnx', out: join(dir, 'c.onnx'), metadata: { classes: ['a,b'] } })).rejects.toThrow(
      /class name "a,b" contains a comma/,
    );
    await expect(exportModel({ model, format: 'onnx', out: join(dir, 't.onnx'), metadata: { thresholds: { image: Number.NaN } } })).rejects.toThrow(
      /thresholds\.image must be a finite number, got null/,
    );
    await expect(exportModel({ model: { ...model, config: { ...model.config, inputSize: 100 } }, format: 'onnx', out: join(dir, 's.onnx') })).rejects.toThrow(
      /model config: inputSize: height 100 must be a positive multiple of 16/,
    );
  });

  it('left nothing behind in the output folder', async () => {
    expect((await readdir(dir)).sort()).toEqual(['a-folder', 'plain-file']);
  });
});
