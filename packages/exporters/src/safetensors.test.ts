/**
 * Official-layout and unias-layout safetensors. Truths: the official state_dict listing
 * (every key and shape the official code's `state_dict()` has, tools/test-fixtures), the official
 * fixture files themselves, and bit equality of round trips.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16ToFloat,
  encodeSafetensors,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  initParams,
  readSafetensorsFile,
  entryToFloat32,
  type TensorData,
} from '@unias/graph';
import { buildFullGraph, presetConfig } from '@unias/model';
import { FIXTURES } from '@unias/test-fixtures';
import { saveTrainingState } from '@unias/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportModel, loadModelFiles, type ExportableModel, type LoadedModel } from './index.js';

let dir: string;
let fixtureModel: LoadedModel;
const OFFICIAL = JSON.parse(await readFile(FIXTURES.stateDictShapes, 'utf8')) as Record<'small' | 'paper', { state_dict: Record<string, number[]> }>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-exporters-st-'));
  fixtureModel = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bitsEqual(a: ReadonlyMap<string, TensorData>, b: ReadonlyMap<string, TensorData>): string[] {
  const bad: string[] = [];
  for (const [k, t] of a) {
    const u = b.get(k);
    if (!u || u.dtype !== 'float32' || JSON.stringify(u.shape) !== JSON.stringify(t.shape)) {
      bad.push(k);
      continue;
    }
    const x = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
    const y = new Uint32Array(u.data.buffer, u.data.byteOffset, u.data.length);
    if (x.some((v, i) => v !== y[i])) bad.push(k);
  }
  if (a.size !== b.size) bad.push(`size ${a.size} vs ${b.size}`);
  return bad;
}

/** Every tensor of a file: name -> [dtype, shape]. */
async function listing(path: string): Promise<Map<string, [string, number[]]>> {
  const f = await readSafetensorsFile(path);
  return new Map([...f.tensors].map(([k, e]) => [k, [e.dtype, [...e.shape]]]));
}

describe('official layout', () => {
  it('a complete model writes exactly the official state_dict (1030 keys, num_batches_tracked as int64 scalars) and reads back bit-identical', async () => {
    const config = presetConfig('small');
    const full = initParams(buildFullGraph(config), 11);
    const bufferKeys = Object.keys(OFFICIAL.small.state_dict).filter((k) => k.endsWith('num_batches_tracked'));
    const model: ExportableModel = { config, preset: 'small', params: full, buffers: new Map(bufferKeys.map((k, i) => [k, 1000 + i])) };
    const out = join(dir, 'official-small.safetensors');
    const r = await exportModel({ model, format: 'safetensors', layout: 'official', out, requireComplete: true });
    expect(r.missing).toEqual([]);

    const written = await listing(out);
    expect(new Map([...written].map(([k, [, s]]) => [k, s]))).toEqual(new Map(Object.entries(OFFICIAL.small.state_dict)));
    for (const [k, [dtype]] of written) expect(dtype, k).toBe(k.endsWith('num_batches_tracked') ? 'I64' : 'F32');

    const back = await loadModelFiles([out], { preset: 'small' });
    expect(bitsEqual(full, back.params)).toEqual([]);
    expect(back.buffers).toEqual(model.buffers);
    expect(back.files).toEqual([{ path: out, layout: 'official', tensors: 1030 - 96 }]);

    // official -> ours -> official: the same bytes.
    const again = join(dir, 'official-small-again.safetensors');
    await exportModel({ model: back, format: 'safetensors', layout: 'official', out: again });
    expect(Buffer.compare(await readFile(out), await readFile(again))).toBe(0);
  });

  it('the official fixture files import (pruned backbone: keys of unused blocks may be absent; F16; no num_batches_tracked)', async () => {
    expect(fixtureModel.files.map((f) => [f.layout, f.tensors])).toEqual([
      ['official', 413],
      ['official', 324],
    ]);
    expect(fixtureModel.buffers.size).toBe(0);
    const head = await readSafetensorsFile(FIXTURES.head);
    const name = 'sem_seg_head.predictor.out_agg.3.3.weight';
    expect(fixtureModel.params.get(name)!.data).toEqual(entryToFloat32(head.tensors.get(name)!));
  });

  it('a pruned model writes the keys it holds, each with the official shape, and lists the rest as missing', async () => {
    const out = join(dir, 'official-pruned.safetensors');
    const r = await exportModel({ model: fixtureModel, format: 'safetensors', layout: 'official', out });
    const written = await listing(out);
    const official = new Map(Object.entries(OFFICIAL.small.state_dict));
    for (const [k, [, shape]] of written) expect(shape, k).toEqual(official.get(k));
    expect(new Set([...written.keys(), ...r.missing!])).toEqual(new Set(official.keys()));
    expect(r.missing).toContain('backbone._fc.weight');
    expect(r.missing).toContain('backbone._blocks.22._bn0.num_batches_tracked');
    expect(written.get('backbone._blocks.21._bn0.num_batches_tracked')).toEqual(['I64', []]);
    await expect(exportModel({ model: fixtureModel, format: 'safetensors', layout: 'official', out, requireComplete: true })).rejects.toThrow(
      /official layout\): \d+ state_dict keys have no value, e\.g\. backbone\._blocks\.22\..*load the full backbone weights/,
    );
  });

  it('F16 and BF16 files read back as their rounded values (Keras-layout backbone: no num_batches_tracked)', async () => {
    const config = presetConfig('cpu');
    const params = initParams(buildFullGraph(config), 5);
    const model: ExportableModel = { config, preset: 'cpu', params };
    const name = 'sem_seg_head.pixel_decoder.input_proj.weight';
    for (const [dtype, round] of [
      ['F16', (v: number) => halfToFloat(floatToHalf(v))],
      ['BF16', (v: number) => bf16ToFloat(floatToBf16(v))],
    ] as const) {
      const out = join(dir, `cpu-${dtype}.safetensors`);
      await exportModel({ model, format: 'safetensors', layout: 'official', dtype, out });
      const written = await listing(out);
      expect([...written.values()].every(([d]) => d === dtype)).toBe(true);
      const back = await loadModelFiles([out], { preset: 'cpu' });
      expect(back.params.size).toBe(params.size);
      for (const [k, t] of params) {
        const got = back.params.get(k)!.data;
        const want = Float32Array.from(t.data, round);
        if (!got.every((v, i) => v === want[i])) throw new Error(`${dtype}: ${k} differs`);
      }
      // Rounding happened (the values are not all representable in 16 bits).
      expect(back.params.get(name)!.data).not.toEqual(params.get(name)!.data);
    }
  });
});

describe('unias layout', () => {
  it('carries config, preset, backbone, thresholds and classes; loads from the file alone, bit-identical', async () => {
    const out = join(dir, 'model.unias.safetensors');
    const info = { thresholds: { image: 0.25, pixel: 0.125, source: 'quantile 0.99 of normal train scores' }, classes: ['bottle', 'cable'] };
    const r = await exportModel({ model: fixtureModel, format: 'safetensors', out, metadata: info });
    expect(r.metadata).toEqual({
      format: 'unias-model/1',
      config: JSON.stringify(presetConfig('small')),
      preset: 'small',
      backbone: 'efficientnet-b4',
      input_size: '224,224',
      thresholds: JSON.stringify(info.thresholds),
      classes: '["bottle","cable"]',
    });
    const back = await loadModelFiles([out]);
    expect(back.config).toEqual(presetConfig('small'));
    expect(back.preset).toBe('small');
    expect(back.thresholds).toEqual(info.thresholds);
    expect(back.classes).toEqual(info.classes);
    expect(back.files).toEqual([{ path: out, layout: 'unias', tensors: fixtureModel.params.size }]);
    expect(bitsEqual(fixtureModel.params, back.params)).toEqual([]);
  });

  it('a model file damaged on disk or holding NaN is refused, naming the file and the tensor', async () => {
    const out = join(dir, 'damaged.unias.safetensors');
    await exportModel({ model: fixtureModel, format: 'safetensors', out });
    const bytes = await readFile(out);
    const f = await readSafetensorsFile(out);
    const victim = [...f.tensors.keys()].sort()[3]!;
    const e = f.tensors.get(victim)!;
    bytes[e.bytes.byteOffset - f.tensors.get([...f.tensors.keys()].sort()[0]!)!.bytes.byteOffset + 8 + Number(bytes.readBigUInt64LE(0)) + 1]! ^= 0x10;
    await writeFile(out, bytes);
    await expect(loadModelFiles([out])).rejects.toThrow(
      new RegExp(`damaged\\.unias\\.safetensors: .*tensor "${victim.replace(/\./g, '\\.')}": its data does not match its checksum`),
    );

    // an official-layout file has no checksums: a NaN is still refused by name
    const nan = join(dir, 'nan.safetensors');
    const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    for (const [k, t] of fixtureModel.params) tensors[k] = { shape: t.shape, data: Float32Array.from(t.data) };
    tensors['sem_seg_head.predictor.spatial_query_embed.weight']!.data[7] = Number.POSITIVE_INFINITY;
    await writeFile(nan, encodeSafetensors(tensors));
    await expect(loadModelFiles([nan], { preset: 'small' })).rejects.toThrow(
      /nan\.safetensors: tensor "sem_seg_head\.predictor\.spatial_query_embed\.weight" holds Infinity at element 7/,
    );
  });

  it('two unias files with different configurations need an explicit one', async () => {
    const a = join(dir, 'a.safetensors');
    const b = join(dir, 'b.safetensors');
    const head = new Map([...fixtureModel.params].filter(([k]) => k.startsWith('sem_seg_head.')));
    const backbone = new Map([...fixtureModel.params].filter(([k]) => k.startsWith('backbone.')));
    // Written without the weight check: each half alone is not a whole model.
    const write = async (path: string, params: Map<string, TensorData>, config: object) => {
      const tensors = Object.fromEntries([...params].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
      await writeFile(path, encodeSafetensors(tensors, { format: 'unias-model/1', config: JSON.stringify(config) }));
    };
    await write(a, head, presetConfig('small'));
    await write(b, backbone, presetConfig('small', { dropout: 0 }));
    await expect(loadModelFiles([a, b])).rejects.toThrow(/model configurations in .*a\.safetensors and .*b\.safetensors differ; pass a config or a preset/);
    const m = await loadModelFiles([a, b], { preset: 'small' });
    expect(m.params.size).toBe(fixtureModel.params.size);
  });
});

describe('loadModelFiles refuses what does not fit, naming the tensor and the file', () => {
  const write = async (
    name: string,
    tensors: Record<string, { shape: number[]; data: number[]; dtype?: 'F32' | 'I64' | 'I32' }>,
    metadata: Record<string, string> = {},
  ) => {
    const path = join(dir, name);
    await writeFile(path, encodeSafetensors(tensors, metadata));
    return path;
  };

  it('missing: the head file alone lacks the backbone', async () => {
    await expect(loadModelFiles([FIXTURES.head], { preset: 'small' })).rejects.toThrow(
      /weights do not fit the model \(preset small, backbone efficientnet-b4, 224x224\): \d+ missing: backbone\._conv_stem\.weight, .* \(all the backbone weights are missing: add the backbone file\); not in .*unias-small\.head\.safetensors/,
    );
  });

  it('misshaped: the small preset weights into the paper preset', async () => {
    await expect(loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'paper' })).rejects.toThrow(
      /258 misshaped: in \S*unias-small\.head\.safetensors: sem_seg_head\.pixel_decoder\.adapter_1\.weight \(\[64,48,1,1\], model \[256,48,1,1\]\), .*, \.\.\. \(250 more\)$/,
    );
  });

  it('unexpected tensors and buffers, with their file', async () => {
    const extra = await write('extra.safetensors', { 'sem_seg_head.bogus.weight': { shape: [2], data: [1, 2] } });
    await expect(loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head, extra], { preset: 'small' })).rejects.toThrow(
      /1 unexpected: in \S*extra\.safetensors: sem_seg_head\.bogus\.weight \(no such parameter in this model\)/,
    );
    const buf = await write('buf.safetensors', { 'backbone.nope.num_batches_tracked': { shape: [], data: [3], dtype: 'I64' } });
    await expect(loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head, buf], { preset: 'small' })).rejects.toThrow(
      /1 unexpected: backbone\.nope\.num_batches_tracked \(in .*buf\.safetensors\) \(no such batch norm/,
    );
  });

  it('wrong dtypes: a float num_batches_tracked, an integer weight', async () => {
    const f = await write('fbuf.safetensors', { 'backbone._bn0.num_batches_tracked': { shape: [], data: [3] } });
    await expect(loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head, f], { preset: 'small' })).rejects.toThrow(
      /fbuf\.safetensors: "backbone\._bn0\.num_batches_tracked" must be an integer scalar \(int64 in PyTorch\), got F32 \[\]/,
    );
    const i = await write('int.safetensors', { 'sem_seg_head.x': { shape: [1], data: [3], dtype: 'I32' } });
    await expect(loadModelFiles([i], { preset: 'small' })).rejects.toThrow(
      /int\.safetensors: tensor "sem_seg_head\.x" is I32; weights must be F32, F16, BF16 or F64/,
    );
  });

  it('a tensor in two files, an unreadable file, a corrupt file, no configuration, an unknown preset', async () => {
    await expect(loadModelFiles([FIXTURES.head, FIXTURES.head], { preset: 'small' })).rejects.toThrow(
      /tensor "sem_seg_head\..*" is in both .*head\.safetensors and .*head\.safetensors/,
    );
    await expect(loadModelFiles([join(dir, 'nope.safetensors')], { preset: 'small' })).rejects.toThrow(/cannot read weights file .*nope\.safetensors: ENOENT/);
    const bad = join(dir, 'bad.safetensors');
    await writeFile(bad, 'not a safetensors file at all');
    await expect(loadModelFiles([bad], { preset: 'small' })).rejects.toThrow(/bad\.safetensors: not a valid safetensors file/);
    await expect(loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head])).rejects.toThrow(
      /no model configuration: .* are official-layout weights without one; give a preset \(paper, small, cpu/,
    );
    await expect(loadModelFiles([FIXTURES.head], { preset: 'tiny' })).rejects.toThrow(/unknown preset "tiny"; known: paper, small/);
    await expect(loadModelFiles([FIXTURES.head], { preset: 'small', overrides: { backbone: 'vgg16' } })).rejects.toThrow(
      /preset small: model config: backbone: unknown backbone "vgg16"/,
    );
    await expect(loadModelFiles([])).rejects.toThrow(/no weight files given/);
  });

  it('a training checkpoint loads its parameters and skips the optimizer state', async () => {
    const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
    for (const [k, t] of fixtureModel.params) {
      tensors[k] = { shape: t.shape, data: t.data as Float32Array };
      if (k.startsWith('sem_seg_head.')) tensors[`optimizer.${k}.m`] = { shape: t.shape, data: t.data as Float32Array };
    }
    const path = join(dir, 'ckpt.safetensors');
    await writeFile(path, encodeSafetensors(tensors, { format: 'unias-training-state/1', step: '3', rng: '{}' }));
    const m = await loadModelFiles([path], { preset: 'small' });
    expect(m.files).toEqual([{ path, layout: 'training-checkpoint', tensors: fixtureModel.params.size }]);
    expect(bitsEqual(fixtureModel.params, m.params)).toEqual([]);
  });

  it("a checkpoint written by @unias/training's saveTrainingState is recognised and loads its params, the optimizer state dropped", async () => {
    const params = new Map<string, TensorData>([...fixtureModel.params].map(([k, t]) => [k, { dtype: 'float32', shape: t.shape, data: t.data }]));
    // optimizer state with the params' names and shapes: a loader that kept it would see unexpected tensors
    const optimizer = new Map<string, TensorData>([...params].slice(0, 5).map(([k, t]) => [k, { ...t, data: new Float32Array(t.data.length).fill(0.5) }]));
    const path = join(dir, 'trained.safetensors');
    await saveTrainingState(path, { step: 12, params, optimizer, rng: { s: [1, 2, 3, 4], spare: null } });
    const m = await loadModelFiles([path], { preset: 'small' });
    expect(m.files).toEqual([{ path, layout: 'training-checkpoint', tensors: fixtureModel.params.size }]);
    expect(bitsEqual(fixtureModel.params, m.params)).toEqual([]);
    expect([...m.params.keys()].some((k) => k.startsWith('optimizer.'))).toBe(false);
  });
});
