/**
 * `unias export` of the official-layout fixture weights (EfficientNet-B4 taps + the small head, as
 * the official UniAS code saved them), checked against that code's own output for the fixture
 * image, in every format.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryToFloat32, readSafetensorsFile, type SafetensorsFile } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';
import { runCli, tempDir } from '../testing/helpers.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let io: SafetensorsFile;
/** The fixture image back in [0, 1] (the fixture stores it ImageNet-normalised). */
let image: Float32Array;
let expected: Float32Array;

async function mapOf(onnxFile: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnxFile);
  try {
    const out = await session.run({ image: new ort.Tensor('float32', image, [1, 3, 224, 224]) });
    return out['anomaly_map']!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxRelError(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
  }
  return err / scale;
}

beforeAll(async () => {
  tmp = await tempDir('export');
  io = await readSafetensorsFile(FIXTURES.io);
  const x = entryToFloat32(io.tensors.get('input.image')!);
  image = new Float32Array(x.length);
  const plane = 224 * 224;
  for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) image[c * plane + i] = x[c * plane + i]! * STD[c]! + MEAN[c]!;
  expected = entryToFloat32(io.tensors.get('output.pred')!);
});
afterAll(async () => tmp.cleanup());

const FROM_FIXTURES = () => ['--preset', 'small', '--backbone', 'efficientnet-b4', '--weights', FIXTURES.backboneTaps, '--weights', FIXTURES.head, '--quiet'];

describe('unias export of official-layout weights', () => {
  it('--format onnx: the exported pipeline reproduces the official map of the fixture image', async () => {
    const out = join(tmp.dir, 'model.onnx');
    const r = await runCli(['export', ...FROM_FIXTURES(), '--format', 'onnx', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(maxRelError(await mapOf(out), expected)).toBeLessThan(1e-4);
  });

  it('--format triton: a repository entry whose model.onnx gives the same map', async () => {
    const repo = join(tmp.dir, 'repo');
    const r = await runCli(['export', ...FROM_FIXTURES(), '--format', 'triton', '--out', repo, '--max-batch-size', '4', '--instance-kind', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(join(repo, 'unias'))).sort()).toEqual(['1', 'config.pbtxt']);
    const config = await readFile(join(repo, 'unias', 'config.pbtxt'), 'utf8');
    expect(config).toMatch(/max_batch_size: 4/);
    expect(config).toMatch(/KIND_CPU/);
    expect(maxRelError(await mapOf(join(repo, 'unias', '1', 'model.onnx')), expected)).toBeLessThan(1e-4);
  });

  it('--format safetensors --layout official: the fixture tensors back, bit for bit, with the batch-norm counters', async () => {
    const out = join(tmp.dir, 'official.safetensors');
    const r = await runCli(['export', ...FROM_FIXTURES(), '--format', 'safetensors', '--layout', 'official', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const written = await readSafetensorsFile(out);
    for (const f of [FIXTURES.backboneTaps, FIXTURES.head]) {
      for (const [name, e] of (await readSafetensorsFile(f)).tensors) {
        const w = written.tensors.get(name);
        expect(w, name).toBeDefined();
        if (e.dtype === 'F16') expect(Buffer.compare(Buffer.from(entryToFloat32(w!).buffer), Buffer.from(entryToFloat32(e).buffer)), name).toBe(0);
      }
    }
    expect([...written.tensors.values()].some((e) => e.name.endsWith('num_batches_tracked') && e.dtype === 'I64')).toBe(true);
  });

  it('--format safetensors (unias layout) is a model on its own: exported again to ONNX without a preset, the same map', async () => {
    const file = join(tmp.dir, 'small.safetensors');
    expect((await runCli(['export', ...FROM_FIXTURES(), '--format', 'safetensors', '--out', file])).code).toBe(0);
    const onnxFile = join(tmp.dir, 'again.onnx');
    const r = await runCli(['export', '--model', file, '--format', 'onnx', '--out', onnxFile, '--threshold', '0.5', '--classes', 'fixture', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(maxRelError(await mapOf(onnxFile), expected)).toBeLessThan(1e-4);
    const { readExportMetadata } = await import('@unias/exporters');
    const meta = await readExportMetadata(onnxFile);
    expect(meta).toMatchObject({ preset: 'small', backbone: 'efficientnet-b4', classes: ['fixture'], thresholds: { pixel: 0.5 } });
  });
});
