/**
 * onnxruntime-node is an optional peer dependency of the exporters: only int8 calibration imports
 * it. Here its import fails, as where it is not installed: float32 and fp16 exports never ask for
 * it, and int8 stops, before lowering, with one line that says to install it.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams } from '@unias/graph';
import { buildInferenceGraph, presetConfig } from '@unias/model';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExportError, exportModel, loadCalibrationRuntime, type ExportableModel, type ExportProgress } from './index.js';

const runtime = vi.hoisted(() => ({ imports: 0 }));
vi.mock('onnxruntime-node', () => {
  runtime.imports++;
  throw new Error("Cannot find package 'onnxruntime-node'");
});

const INSTALL = 'install it beside @unias/exporters (npm install onnxruntime-node), or export float32 or fp16';
const notFound = () =>
  Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from /app/node_modules/@unias/exporters/dist/index.js"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });

let dir: string;
let model: ExportableModel;
const size = 224;
const image = () => new Float32Array(3 * size * size).fill(0.5);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-runtime-'));
  const config = { ...presetConfig('cpu'), inputSize: size };
  model = { config, preset: 'cpu', params: initParams(buildInferenceGraph(config), 1) };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('without onnxruntime-node', () => {
  it('float32 and fp16 exports write their files and never import it', async () => {
    for (const precision of ['float32', 'fp16'] as const) {
      const r = await exportModel({ model, format: 'onnx', out: join(dir, `${precision}.onnx`), precision });
      expect(r.metadata['unias.precision']).toBe(precision);
    }
    await exportModel({ model, format: 'triton', out: join(dir, 'repo') });
    expect(runtime.imports).toBe(0);
  });

  it('int8 fails before lowering, in one line that says to install it', async () => {
    const progress: ExportProgress[] = [];
    const out = join(dir, 'int8.onnx');
    const failed = exportModel({ model, format: 'onnx', out, precision: 'int8', calibration: { images: [image()] }, onProgress: (p) => progress.push(p) });
    const error = await failed.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ExportError);
    const message = (error as ExportError).message;
    expect(message).toMatch(/^precision int8 calibrates on onnxruntime-node, which failed to load \(.*\): /);
    expect(message.endsWith(INSTALL)).toBe(true);
    expect(message).not.toContain('\n');
    expect(runtime.imports).toBe(1);
    expect(progress.map((p) => p.message)).toEqual(['checking the model and its weights']);
    expect((await readdir(dir)).filter((f) => f.startsWith('int8'))).toEqual([]);
  });

  it('a runtime import given with the calibration images is used instead, with the same errors', async () => {
    const calibration = { images: [image()], runtime: () => Promise.reject(notFound()) };
    await expect(exportModel({ model, format: 'onnx', out: join(dir, 'int8.onnx'), precision: 'int8', calibration })).rejects.toThrow(
      `precision int8 calibrates on onnxruntime-node, which is not installed: ${INSTALL}`,
    );
    const broken = () => Promise.reject(new Error('libonnxruntime.so.1: cannot open shared object file\n    at Module._extensions..node'));
    await expect(loadCalibrationRuntime(broken)).rejects.toThrow(
      `precision int8 calibrates on onnxruntime-node, which failed to load (libonnxruntime.so.1: cannot open shared object file): ${INSTALL}`,
    );
    expect(runtime.imports).toBe(1);
  });
});
