/**
 * `exportModel({ format: 'onnx', precision: 'int8' })` of the fixture pipeline (small preset,
 * EfficientNet-B4 taps, the official weights): the file keeps the float32 contract, says its
 * precision and calibration in metadata_props, and its map follows the float export's.
 * (The error bound of the quantisation itself is checked on a small graph in quantize/qdq.test.ts;
 * accuracy on real data is a bench: docs/benchmarks.md#int8-and-fp16-export.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '@unias/test-fixtures';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatToHalf } from '@unias/graph';
import { loadPipelineFixture, mirrored, type PipelineFixture } from '../test/fixture.js';
import {
  METADATA_KEYS,
  buildOnnxModel,
  buildQuantizedOnnxModel,
  exportModel,
  loadModelFiles,
  parseExportMetadata,
  readExportMetadata,
  type ExportProgress,
  type LoadedModel,
} from './index.js';

let dir: string;
let fx: PipelineFixture;
let model: LoadedModel;
let file: string;
const progress: ExportProgress[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-int8-'));
  fx = await loadPipelineFixture();
  model = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small', overrides: { backbone: 'efficientnet-b4' } });
  file = join(dir, 'int8.onnx');
  await exportModel({
    model,
    format: 'onnx',
    out: file,
    precision: 'int8',
    calibration: { images: [fx.unitImage.data, mirrored(fx.unitImage.data, 224)], method: 'minmax', source: 'the fixture image and its mirror' },
    onProgress: (p) => progress.push(p),
  });
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

async function mapOf(bytesOrFile: Uint8Array | string): Promise<{ map: Float32Array; score: number; inputs: unknown; outputs: unknown }> {
  const session =
    typeof bytesOrFile === 'string'
      ? await ort.InferenceSession.create(bytesOrFile, { intraOpNumThreads: 2 })
      : await ort.InferenceSession.create(bytesOrFile, { intraOpNumThreads: 2 });
  try {
    const out = await session.run({ image: new ort.Tensor('float32', fx.unitImage.data, [1, 3, 224, 224]) });
    return {
      map: out['anomaly_map']!.data as Float32Array,
      score: (out['score']!.data as Float32Array)[0]!,
      inputs: session.inputMetadata,
      outputs: session.outputMetadata,
    };
  } finally {
    await session.release();
  }
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('int8 ONNX export of the fixture pipeline', () => {
  it('keeps the float32 contract, and its map follows the float export (correlation, score)', async () => {
    const int8 = await mapOf(file);
    const f32 = await mapOf(buildOnnxModel({ model }).bytes);
    expect(int8.inputs).toEqual(f32.inputs);
    expect(int8.outputs).toEqual(f32.outputs);
    const r = pearson(int8.map, f32.map);
    const scoreChange = Math.abs(int8.score - f32.score) / f32.score;
    console.log(`int8 vs float32 export, fixture image: map correlation ${r.toFixed(4)}, score ${f32.score.toFixed(4)} -> ${int8.score.toFixed(4)}`);
    expect(r).toBeGreaterThan(0.97);
    expect(scoreChange).toBeLessThan(0.15);
  });

  it('metadata round-trips: precision int8 and how it was calibrated', async () => {
    const meta = await readExportMetadata(file);
    expect(meta.precision).toBe('int8');
    expect(meta.calibration).toEqual({ images: 2, method: 'minmax', source: 'the fixture image and its mirror' });
    expect(meta.raw).toMatchObject({
      [METADATA_KEYS.precision]: 'int8',
      [METADATA_KEYS.calibrationImages]: '2',
      [METADATA_KEYS.calibrationMethod]: 'minmax',
      [METADATA_KEYS.calibrationSource]: 'the fixture image and its mirror',
      'unias.preset': 'small',
    });
  });

  it('reports five progress steps, calibration among them', () => {
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(progress[2]!.message).toMatch(/^calibrating int8 ranges on 2 images \(minmax\)/);
  });

  it('refuses a bad precision, int8 without images, calibration on float32, int8 in another format', async () => {
    const out = join(dir, 'bad.onnx');
    await expect(exportModel({ model, format: 'onnx', out, precision: 'int4' as 'int8' })).rejects.toThrow(
      /precision must be one of float32, int8, fp16, got "int4"/,
    );
    await expect(exportModel({ model, format: 'onnx', out, precision: 'int8' })).rejects.toThrow(/precision int8 needs calibration images/);
    await expect(exportModel({ model, format: 'onnx', out, precision: 'int8', calibration: { images: [] } })).rejects.toThrow(
      /precision int8 needs calibration images/,
    );
    await expect(exportModel({ model, format: 'onnx', out, calibration: { images: [fx.unitImage.data] } })).rejects.toThrow(
      /calibration images apply to precision int8 only/,
    );
    await expect(
      exportModel({ model, format: 'triton', out: join(dir, 'repo'), precision: 'int8', calibration: { images: [fx.unitImage.data] } }),
    ).rejects.toThrow(/precision int8 applies to format onnx only, not triton/);
    await expect(exportModel({ model, format: 'onnx', out, precision: 'int8', calibration: { images: [new Float32Array(10)] } })).rejects.toThrow(
      /calibration image 0 has 10 values, expected 3x224x224/,
    );
  });

  it('fp16: half the file, the float32 contract, the map within the float16 rounding of the weights', async () => {
    const f32 = buildOnnxModel({ model });
    const fp16 = await buildQuantizedOnnxModel({ model, precision: 'fp16' });
    expect(fp16.metadata[METADATA_KEYS.precision]).toBe('fp16');
    expect(fp16.bytes.byteLength).toBeLessThan(0.55 * f32.bytes.byteLength);
    const a = await mapOf(f32.bytes);
    const b = await mapOf(fp16.bytes);
    expect(b.inputs).toEqual(a.inputs);
    expect(b.outputs).toEqual(a.outputs);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < a.map.length; i++) {
      err = Math.max(err, Math.abs(a.map[i]! - b.map[i]!));
      scale = Math.max(scale, Math.abs(a.map[i]!));
    }
    console.log(`fp16 vs float32 export, fixture image: max rel error ${(err / scale).toExponential(2)}`);
    // each weight moves by at most 2^-11 of itself; through the ~100 layers of the pipeline that
    // stays far under 1% of the map (int8 moves it by several percent)
    expect(err / scale).toBeLessThan(1e-2);
    expect(err).toBeGreaterThan(0);
  });

  it('float16 bits are IEEE 754 binary16, rounded to nearest even', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up past the largest finite value: infinity
    expect(floatToHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(floatToHalf(2 ** -14)).toBe(0x0400); // smallest normal
    expect(floatToHalf(0.1)).toBe(0x2e66);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie: to the even mantissa
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(0)).toBe(0);
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('reads files without a precision as float32, and refuses a bad precision or calibration count by key', () => {
    const base = { 'unias.format': '1', 'unias.input_size': '64,64', 'unias.preset': 'cpu', 'unias.backbone': 'mobilenet_v2' };
    expect(parseExportMetadata(base).precision).toBe('float32');
    expect(() => parseExportMetadata({ ...base, 'unias.precision': 'int4' }, 'm.onnx')).toThrow(
      /m\.onnx: metadata unias\.precision = "int4" is not one of float32, int8, fp16/,
    );
    expect(() => parseExportMetadata({ ...base, 'unias.precision': 'int8', 'unias.calibration.images': '0' }, 'm.onnx')).toThrow(
      /unias\.calibration\.images = "0" is not a positive integer/,
    );
  });
});
