/**
 * `unias export --precision int8`: calibration on normal training images only, the flags' errors,
 * and the int8 file through `unias predict` (fixture weights: small preset, EfficientNet-B4 taps).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readExportMetadata } from '@unias/exporters';
import { FIXTURES } from '@unias/test-fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrationSamples, loadData } from '@unias/engine';
import { runCli, tempDir, tinyDataset } from '../testing/helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;

beforeAll(async () => {
  tmp = await tempDir('export-int8');
  data = await tinyDataset(join(tmp.dir, 'data'));
});
afterAll(async () => tmp.cleanup());

const FROM_FIXTURES = () => [
  '--preset',
  'small',
  '--backbone',
  'efficientnet-b4',
  '--weights',
  FIXTURES.backboneTaps,
  '--weights',
  FIXTURES.head,
  '--quiet',
  '--format',
  'onnx',
];

describe('int8 calibration images', () => {
  it('are normal training images only (train/good), spread over the classes', async () => {
    const { dataset } = await loadData({ roots: [data], format: 'auto', classes: null });
    // the set has test images, normal and defective, that must not be picked
    expect(dataset.samples.some((s) => s.split === 'test' && s.label === 0)).toBe(true);
    expect(dataset.samples.some((s) => s.label === 1)).toBe(true);
    const picked = calibrationSamples(dataset, 6);
    expect(picked).toHaveLength(6);
    for (const s of picked) expect(s.path).toMatch(/[/\\]train[/\\]good[/\\][^/\\]+$/);
    expect(new Set(picked.map((s) => s.className))).toEqual(new Set(['fabric', 'washer']));
    // asking for more than there are gives every normal training image once
    const all = calibrationSamples(dataset, 1000);
    expect(all).toHaveLength(16);
    expect(new Set(all.map((s) => s.path)).size).toBe(16);
  });
});

describe('unias export --precision', () => {
  it('a bad value is an error naming the flag and the choices', async () => {
    const r = await runCli(['export', ...FROM_FIXTURES(), '--out', join(tmp.dir, 'x.onnx'), '--precision', 'int4']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--precision must be one of float32, int8, fp16, got "int4"/);
  });

  it('calibration flags without int8, int8 in another format, int8 without data: errors naming the flags', async () => {
    const out = join(tmp.dir, 'y.onnx');
    const noInt8 = await runCli(['export', ...FROM_FIXTURES(), '--out', out, '--calibration-images', '4']);
    expect(noInt8.stderr).toMatch(/--calibration-data, --calibration-images and --calibration-method apply to --precision int8 only/);
    const triton = await runCli(['export', ...FROM_FIXTURES().slice(0, -2), '--format', 'triton', '--out', join(tmp.dir, 'repo'), '--precision', 'int8']);
    expect(triton.stderr).toMatch(/--precision int8 applies to --format onnx only/);
    const noData = await runCli(['export', ...FROM_FIXTURES(), '--out', out, '--precision', 'int8']);
    expect(noData.stderr).toMatch(/--precision int8 needs --calibration-data DIR/);
    const method = await runCli([
      'export',
      ...FROM_FIXTURES(),
      '--out',
      out,
      '--precision',
      'int8',
      '--calibration-data',
      data,
      '--calibration-method',
      'entropy',
    ]);
    expect(method.stderr).toMatch(/--calibration-method must be one of minmax, percentile, got "entropy"/);
    for (const r of [noInt8, triton, noData, method]) expect(r.code).not.toBe(0);
  });

  it('fp16: float16 weights, no calibration; the metadata says so', async () => {
    const out = join(tmp.dir, 'fp16.onnx');
    const r = await runCli(['export', ...FROM_FIXTURES(), '--out', out, '--precision', 'fp16']);
    expect(r.code, r.stderr).toBe(0);
    const meta = await readExportMetadata(out);
    expect(meta.precision).toBe('fp16');
    expect(meta.calibration).toBeUndefined();
  });

  it('int8: metadata says so and how it was calibrated; unias predict runs the file and reports the precision', async () => {
    const out = join(tmp.dir, 'int8.onnx');
    const r = await runCli([
      'export',
      ...FROM_FIXTURES(),
      '--out',
      out,
      '--precision',
      'int8',
      '--calibration-data',
      data,
      '--calibration-images',
      '4',
      '--calibration-method',
      'percentile',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    const meta = await readExportMetadata(out);
    expect(meta.precision).toBe('int8');
    expect(meta.calibration).toMatchObject({ images: 4, method: 'percentile' });
    expect(meta.calibration?.source).toMatch(/^4 train\/good images of /);

    const image = join(data, 'washer', 'test', 'good', (await readdir(join(data, 'washer', 'test', 'good')))[0]!);
    const p = await runCli(['predict', '--model', out, image, '--out', join(tmp.dir, 'pred'), '--threads', '1', '--quiet']);
    expect(p.code, p.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(tmp.dir, 'pred', 'summary.json'), 'utf8')) as { model: string; images: Array<{ score: number }> };
    expect(summary.model).toMatch(/, int8, calibrated on 4 images \(percentile\)\) on onnx-/);
    expect(Number.isFinite(summary.images[0]!.score)).toBe(true);
  });
});
