import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toOnnxModel } from '@unias/backend-onnx';
import { bf16ToFloat, encodeSafetensors, floatToBf16, floatToHalf, halfToFloat, writeSafetensorsFile } from '@unias/graph';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackbone } from '../registry.js';
import { noise, sameValues } from '../testing/helpers.js';
import { buildBackboneGraph, checkBackboneWeights } from './check.js';
import { importOnnx } from './onnx.js';
import { importSafetensors } from './safetensors.js';
import { checkTfjsModelJson, importTfjsLayers } from './tfjs-layers.js';
import { importWeights, loadBackboneWeights } from './load.js';

const onnx = onnxProto.onnx;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-importers-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const f16 = (v: number) => halfToFloat(floatToHalf(v));
const bf16 = (v: number) => bf16ToFloat(floatToBf16(v));

describe('safetensors import', () => {
  const a = noise([4, 3, 3, 3], 1);
  const b = noise([7], 2);
  const c = noise([2, 5], 3);

  it('reads F32 / F16 / BF16, drops num_batches_tracked, renames with a map and prefixes', async () => {
    const file = join(dir, 'w.safetensors');
    await writeSafetensorsFile(file, {
      'module.conv.weight': { shape: a.shape, data: a.data },
      'module.bn.weight': { shape: b.shape, data: b.data, dtype: 'F16' },
      'module.fc.weight': { shape: c.shape, data: c.data, dtype: 'BF16' },
      'module.bn.num_batches_tracked': { shape: [], data: [12], dtype: 'I64' },
    });
    const w = await importSafetensors(file, { stripPrefix: 'module.', addPrefix: 'backbone.', nameMap: { 'module.fc.weight': 'module._fc.weight' } });
    expect([...w.keys()].sort()).toEqual(['backbone._fc.weight', 'backbone.bn.weight', 'backbone.conv.weight']);
    expect(sameValues(w.get('backbone.conv.weight')!.data, a.data)).toBe(true);
    expect(sameValues(w.get('backbone.bn.weight')!.data, Array.from(b.data, f16))).toBe(true);
    expect(sameValues(w.get('backbone._fc.weight')!.data, Array.from(c.data, bf16))).toBe(true);
    expect(w.get('backbone._fc.weight')!.shape).toEqual([2, 5]);
  });

  it('a name-map function drops what it returns null for; two tensors on one name is an error naming both', async () => {
    const bytes = encodeSafetensors({ x: { shape: [1], data: [1] }, y: { shape: [1], data: [2] } });
    const w = await importSafetensors(bytes, { nameMap: (n) => (n === 'x' ? null : n) });
    expect([...w.keys()]).toEqual(['y']);
    await expect(importSafetensors(bytes, { nameMap: () => 'z' })).rejects.toThrow(/tensors "x" and "y" both map to "z"/);
  });

  it('integer tensors other than the batch counters are refused by name; a missing file names the path', async () => {
    const bytes = encodeSafetensors({ idx: { shape: [2], data: [1, 2], dtype: 'I32' } });
    await expect(importSafetensors(bytes)).rejects.toThrow(/tensor "idx" is I32/);
    await expect(importSafetensors(join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors.*ENOENT/);
  });
});

describe('ONNX import', () => {
  function tensor(name: string, dataType: number, dims: number[], fields: Record<string, unknown>) {
    return onnx.TensorProto.create({ name, dataType, dims, ...fields });
  }
  const values = [0.5, -1.25, 3.0625, 1e-3, -7.5, 100];
  const f32raw = new Uint8Array(new Float32Array(values).buffer);
  const f16raw = new Uint8Array(new Uint16Array(values.map(floatToHalf)).buffer);
  const bf16raw = new Uint8Array(new Uint16Array(values.map(floatToBf16)).buffer);
  const f64raw = new Uint8Array(new Float64Array(values).buffer);

  function modelBytes(inits: ReturnType<typeof tensor>[]): Uint8Array {
    return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, graph: { name: 'g', initializer: inits } })).finish();
  }

  it('reads float / float16 / bfloat16 / double from raw_data and from the typed fields, skips integers', async () => {
    const bytes = modelBytes([
      tensor('a.raw', 1, [2, 3], { rawData: f32raw }),
      tensor('a.float_data', 1, [2, 3], { floatData: values }),
      tensor('h.raw', 10, [6], { rawData: f16raw }),
      tensor('h.int32_data', 10, [6], { int32Data: values.map(floatToHalf) }),
      tensor('bf.raw', 16, [3, 2], { rawData: bf16raw }),
      tensor('d.raw', 11, [6], { rawData: f64raw }),
      tensor('d.double_data', 11, [6], { doubleData: values }),
      tensor('shape', 7, [2], { int64Data: [1, -1] }),
    ]);
    const file = join(dir, 'm.onnx');
    await writeFile(file, bytes);
    const w = await importOnnx(file, { nameMap: (n) => (n === 'd.raw' ? 'renamed' : n) });
    expect([...w.keys()].sort()).toEqual(['a.float_data', 'a.raw', 'bf.raw', 'd.double_data', 'h.int32_data', 'h.raw', 'renamed']);
    const f32 = Array.from(new Float32Array(values));
    expect(Array.from(w.get('a.raw')!.data)).toEqual(f32);
    expect(Array.from(w.get('a.float_data')!.data)).toEqual(f32);
    expect(w.get('a.raw')!.shape).toEqual([2, 3]);
    expect(Array.from(w.get('h.raw')!.data)).toEqual(values.map(f16));
    expect(Array.from(w.get('h.int32_data')!.data)).toEqual(values.map(f16));
    expect(Array.from(w.get('bf.raw')!.data)).toEqual(values.map(bf16));
    expect(Array.from(w.get('renamed')!.data)).toEqual(f32);
    expect(Array.from(w.get('d.double_data')!.data)).toEqual(f32);
  });

  it('names the initializer whose data does not fill its shape, or whose data is external', async () => {
    await expect(importOnnx(modelBytes([tensor('short', 1, [2, 4], { floatData: values })]))).rejects.toThrow(
      /initializer "short": 6 values for shape \[2,4\]/,
    );
    const ext = tensor('ext', 1, [1], { dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] });
    await expect(importOnnx(modelBytes([ext]))).rejects.toThrow(/initializer "ext" keeps its data in an external file/);
    await expect(importOnnx(new Uint8Array([0xff, 0xff, 0xff]))).rejects.toThrow(/not a valid ONNX model/);
  });

  it('reads back the initializers of a backbone exported by @unias/backend-onnx', async () => {
    const bb = getBackbone('resnet18');
    const { pruned } = buildBackboneGraph(bb, { size: 32, taps: ['res1', 'res2'] });
    const params = new Map([...pruned.params.values()].map((p, i) => [p.name, noise(p.shape, 100 + i)]));
    const w = await importOnnx(toOnnxModel(pruned, { params }), { nameMap: (n) => (pruned.params.has(n) ? n : null) });
    expect([...w.keys()].sort()).toEqual([...params.keys()].sort());
    for (const [k, t] of params) expect(sameValues(w.get(k)!.data, t.data), k).toBe(true);
    expect(() => checkBackboneWeights(bb, w, { taps: ['res1', 'res2'] })).not.toThrow();
  });
});

describe('tfjs layers import (model.json + shards, quantised)', () => {
  // Keras layouts: conv [kh, kw, in, out], depthwise [kh, kw, C, m], dense [in, out].
  const conv = noise([3, 3, 2, 4], 21);
  const dw = noise([3, 3, 4, 2], 22);
  const dense = noise([8, 5], 23);
  const gamma = noise([8], 24, 0.5, 1.5);
  const beta = noise([8], 25);
  const q = { min: -0.75, scale: 0.01 };
  const qbytes = Uint8Array.from({ length: 8 }, (_, i) => i * 30); // moving_mean, uint8
  const q16 = Uint16Array.from({ length: 8 }, (_, i) => 1000 + 5000 * i); // moving_variance, uint16
  const q16s = { min: 0.1, scale: 1e-4 };

  function manifest(paths: string[][]) {
    return {
      modelTopology: {},
      weightsManifest: [
        {
          paths: paths[0],
          weights: [
            { name: 'conv/kernel', shape: [3, 3, 2, 4], dtype: 'float32' },
            { name: 'dw/depthwise_kernel', shape: [3, 3, 4, 2], dtype: 'float32', quantization: { dtype: 'float16' } },
            { name: 'bn/gamma', shape: [8], dtype: 'float32' },
          ],
        },
        {
          paths: paths[1],
          weights: [
            { name: 'bn/beta', shape: [8], dtype: 'float32' },
            { name: 'bn/moving_mean', shape: [8], dtype: 'float32', quantization: { dtype: 'uint8', ...q } },
            { name: 'bn/moving_variance', shape: [8], dtype: 'float32', quantization: { dtype: 'uint16', ...q16s } },
            { name: 'fc/kernel:0', shape: [8, 5], dtype: 'float32' },
            { name: 'fc/bias:0', shape: [5], dtype: 'float32' },
          ],
        },
      ],
    };
  }

  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  };
  const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const group1 = cat(bytesOf(conv.data), bytesOf(Uint16Array.from(dw.data, floatToHalf)), bytesOf(gamma.data));
  const group2 = cat(bytesOf(beta.data), qbytes, bytesOf(q16), bytesOf(dense.data), bytesOf(new Float32Array(5).fill(0.25)));

  async function writeModel(sub: string, shard1: Uint8Array, shard2: Uint8Array): Promise<string> {
    const d = join(dir, sub);
    await rm(d, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(d, { recursive: true });
    // Group 1 split over two shard files, group 2 in one.
    await writeFile(join(d, 'g1-a.bin'), shard1.subarray(0, 50));
    await writeFile(join(d, 'g1-b.bin'), shard1.subarray(50));
    await writeFile(join(d, 'g2.bin'), shard2);
    await writeFile(join(d, 'model.json'), JSON.stringify(manifest([['g1-a.bin', 'g1-b.bin'], ['g2.bin']])));
    return join(d, 'model.json');
  }

  it('converts Keras names and layouts and dequantises (uint8, uint16: q * scale + min; float16)', async () => {
    const w = await importTfjsLayers(await writeModel('ok', group1, group2));
    expect([...w.keys()].sort()).toEqual(['bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.weight', 'dw.weight', 'fc.bias', 'fc.weight']);
    const cw = w.get('conv.weight')!;
    expect(cw.shape).toEqual([4, 2, 3, 3]);
    const dww = w.get('dw.weight')!;
    expect(dww.shape).toEqual([8, 1, 3, 3]);
    const fw = w.get('fc.weight')!;
    expect(fw.shape).toEqual([5, 8]);
    for (let kh = 0; kh < 3; kh++)
      for (let kw = 0; kw < 3; kw++) {
        for (let i = 0; i < 2; i++)
          for (let o = 0; o < 4; o++) expect(cw.data[((o * 2 + i) * 3 + kh) * 3 + kw]).toBe(conv.data[((kh * 3 + kw) * 2 + i) * 4 + o]);
        // Depthwise output channel c * m + j, as TensorFlow numbers them.
        for (let c = 0; c < 4; c++)
          for (let j = 0; j < 2; j++) expect(dww.data[((c * 2 + j) * 3 + kh) * 3 + kw]).toBe(f16(dw.data[((kh * 3 + kw) * 4 + c) * 2 + j]!));
      }
    for (let i = 0; i < 8; i++) for (let o = 0; o < 5; o++) expect(fw.data[o * 8 + i]).toBe(dense.data[i * 5 + o]);
    expect(Array.from(w.get('bn.running_mean')!.data)).toEqual(Array.from(qbytes, (v) => Math.fround(v * q.scale + q.min)));
    expect(Array.from(w.get('bn.running_var')!.data)).toEqual(Array.from(q16, (v) => Math.fround(v * q16s.scale + q16s.min)));
    expect(sameValues(w.get('bn.weight')!.data, gamma.data)).toBe(true);
    expect(sameValues(w.get('bn.bias')!.data, beta.data)).toBe(true);
  });

  it('short, long or missing shards are errors naming the weight or file', async () => {
    await expect(importTfjsLayers(await writeModel('short', group1, group2.subarray(0, group2.byteLength - 4)))).rejects.toThrow(/ends .* inside "fc\/bias:0"/);
    await expect(importTfjsLayers(await writeModel('long', group1, cat(group2, new Uint8Array(4))))).rejects.toThrow(/4 bytes of weight data left over/);
    const path = await writeModel('gone', group1, group2);
    await rm(join(dir, 'gone', 'g2.bin'));
    await expect(importTfjsLayers(path)).rejects.toThrow(/cannot read weight shard .*g2\.bin \(listed in .*model\.json\)/);
    await writeFile(
      path,
      JSON.stringify({
        weightsManifest: [{ paths: ['g2.bin'], weights: [{ name: 'x/kernel', shape: [1], dtype: 'float32', quantization: { dtype: 'int4' } }] }],
      }),
    );
    await expect(importTfjsLayers(path)).rejects.toThrow(/\("x\/kernel"\) has unsupported quantization dtype "int4"/);
  });

  it('dtypes are own keys only; dims must be safe integers', () => {
    const manifest = (w: Record<string, unknown>) => ({
      weightsManifest: [{ paths: ['g.bin'], weights: [{ name: 'x/kernel', shape: [2], dtype: 'float32', ...w }] }],
    });
    for (const dtype of ['constructor', 'toString', '__proto__']) {
      expect(() => checkTfjsModelJson(manifest({ dtype }), 'm.json')).toThrow(
        `m.json: not a tfjs layers model.json: weightsManifest[0].weights[0] ("x/kernel") has unsupported dtype "${dtype}"`,
      );
    }
    expect(() => checkTfjsModelJson(manifest({ shape: [1e300] }), 'm.json')).toThrow(/\("x\/kernel"\) has a bad shape/);
    expect(() => checkTfjsModelJson(manifest({ shape: [2 ** 30, 2 ** 30, 2 ** 30] }), 'm.json')).toThrow(/\("x\/kernel"\) has a shape too large to hold/);
    expect(checkTfjsModelJson(manifest({}), 'm.json').weightsManifest).toHaveLength(1);
  });
});

describe('checkBackboneWeights', () => {
  const bb = getBackbone('resnet18');
  const { full } = buildBackboneGraph(bb, { size: 32 });
  const all = () => new Map([...full.params.values()].map((p) => [p.name, noise(p.shape, 7)]));

  it('accepts a full state_dict, and one without the parts the taps do not use', () => {
    expect(() => checkBackboneWeights(bb, all())).not.toThrow();
    const w = all();
    for (const k of [...w.keys()]) if (k.startsWith('fc.') || k.startsWith('layer4.')) w.delete(k);
    expect(() => checkBackboneWeights(bb, w)).not.toThrow();
    expect(() => checkBackboneWeights(bb, w, { taps: ['res5'] })).toThrow(/missing: layer4\.0\.conv1\.weight/);
  });

  it('names the missing, misshaped and unexpected tensors in one error', () => {
    const w = all();
    w.delete('layer2.0.downsample.1.running_var');
    w.set('layer1.1.conv2.weight', noise([64, 64, 1, 1], 3));
    w.set('layer9.0.conv1.weight', noise([1], 4));
    expect(() => checkBackboneWeights(bb, w)).toThrow(
      /backbone "resnet18": weights do not fit the model: 1 missing: layer2\.0\.downsample\.1\.running_var; 1 misshaped: layer1\.1\.conv2\.weight \(file \[64,64,1,1\], model \[64,64,3,3\]\); 1 unexpected: layer9\.0\.conv1\.weight/,
    );
  });

  it('checks scoped names when the backbone is built inside a scope', () => {
    const scoped = new Map([...all()].map(([k, v]) => [`backbone.${k}`, v]));
    expect(() => checkBackboneWeights(bb, scoped, { scope: 'backbone' })).not.toThrow();
    expect(() => checkBackboneWeights(bb, scoped)).toThrow(/missing: conv1\.weight/);
  });
});

describe('loadBackboneWeights / importWeights', () => {
  it('loads a file by extension, checks it against the taps and keys it under the scope', async () => {
    const { FIXTURES } = await import('@unias/test-fixtures');
    const bb = getBackbone('efficientnet-b4');
    const w = await loadBackboneWeights(bb, { path: FIXTURES.backboneTaps, stripPrefix: 'backbone.', scope: 'backbone' });
    expect(w.has('backbone._blocks.21._bn2.running_var')).toBe(true);
    await expect(loadBackboneWeights(bb, { path: FIXTURES.backboneTaps, stripPrefix: 'backbone.', taps: ['head'] })).rejects.toThrow(/missing: _blocks\.22\./);
  });

  it('falls back to the bundled default weights, and says so when a backbone has none', async () => {
    await expect(loadBackboneWeights(getBackbone('resnet50'))).rejects.toThrow(
      /"resnet50" has no bundled weights; pass a weights file \(torchvision key layout\)/,
    );
    const w = await loadBackboneWeights(getBackbone('mobilenet_v2'), { cacheDir: dir, scope: 'backbone' });
    expect(w.has('backbone.block_10_project_BN.running_var')).toBe(true);
  });

  it('refuses an unknown file type by name', async () => {
    await expect(importWeights('/tmp/w.h5')).rejects.toThrow(/w\.h5: unknown weights file type "\.h5" \(expected .safetensors, .onnx, .pth/);
  });
});
