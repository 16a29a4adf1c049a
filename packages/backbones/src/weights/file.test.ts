/**
 * readWeightFile, the one reader of weight files, against independent truths: values written by
 * @unias/graph's safetensors writer (and rounded by its own F16 converter), an ONNX model encoded
 * by onnx-proto, and a PyTorch checkpoint written by @unias/torch-checkpoint's test writer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { floatToHalf, halfToFloat, readSafetensorsFile, writeSafetensorsFile } from '@unias/graph';
import { writeTorchCheckpoint } from '@unias/torch-checkpoint/testing';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWeightFile, weightFileKind } from './file.js';
import { importWeights } from './load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-weight-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readWeightFile', () => {
  it('gives the kind by name, and refuses an unknown one by name unless the kind is given', async () => {
    expect(weightFileKind('a/w.safetensors')).toBe('safetensors');
    expect(weightFileKind('m.ONNX')).toBe('onnx');
    expect(weightFileKind('tfjs/model.json')).toBe('tfjs-layers');
    expect(weightFileKind('ckpt.pth.tar')).toBe('torch-checkpoint');
    expect(weightFileKind('w.pt')).toBe('torch-checkpoint');
    expect(weightFileKind('w.bin')).toBeUndefined();
    const path = join(dir, 'w.bin');
    await writeSafetensorsFile(path, { x: { shape: [1], data: [2] } });
    await expect(readWeightFile(path)).rejects.toThrow(/w\.bin: unknown weights file type "\.bin"/);
    expect(Array.from((await readWeightFile(path, { kind: 'safetensors' })).tensors.get('x')!.data)).toEqual([2]);
  });

  it('a safetensors file: float tensors as float32, the batch counters apart, the metadata, names mapped', async () => {
    const path = join(dir, 'w.safetensors');
    const values = [0.1, -2.5, 1e-3, 3];
    await writeSafetensorsFile(
      path,
      {
        'm.conv.weight': { shape: [2, 2], data: values },
        'm.bn.weight': { shape: [4], data: values, dtype: 'F16' },
        'm.bn.num_batches_tracked': { shape: [], data: [41], dtype: 'I64' },
      },
      { format: 'pt', note: 'hello' },
    );
    const f = await readWeightFile(path, { stripPrefix: 'm.' });
    expect(f.kind).toBe('safetensors');
    expect(f.source).toBe(path);
    expect(f.metadata).toEqual({ format: 'pt', note: 'hello' });
    expect([...f.tensors.keys()].sort()).toEqual(['bn.weight', 'conv.weight']);
    expect(f.tensors.get('conv.weight')).toEqual({ dtype: 'float32', shape: [2, 2], data: Float32Array.from(values) });
    expect(Array.from(f.tensors.get('bn.weight')!.data)).toEqual(values.map((v) => halfToFloat(floatToHalf(v))));
    expect(f.counters.get('bn.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], value: 41 });
    // importWeights is the same reader's tensors
    expect(await importWeights(path, { stripPrefix: 'm.' })).toEqual(f.tensors);
  });

  it('an ONNX file: its float initializers and its metadata_props', async () => {
    const onnx = onnxProto.onnx;
    const bytes = onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        metadataProps: [{ key: 'unias.preset', value: 'small' }],
        graph: { name: 'g', initializer: [onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [2], floatData: [1.5, -1] })] },
      }),
    ).finish();
    const path = join(dir, 'm.onnx');
    await writeFile(path, bytes);
    const f = await readWeightFile(path);
    expect(f.kind).toBe('onnx');
    expect(f.metadata).toEqual({ 'unias.preset': 'small' });
    expect(Array.from(f.tensors.get('w')!.data)).toEqual([1.5, -1]);
    expect(f.counters.size).toBe(0);
  });

  it('a PyTorch checkpoint reads as the same tensors and counters as its safetensors twin', async () => {
    const st = join(dir, 'twin.safetensors');
    await writeSafetensorsFile(st, {
      'conv.weight': { shape: [3], data: [1, 2, 3] },
      'bn.num_batches_tracked': { shape: [], data: [7], dtype: 'I64' },
    });
    const pth = join(dir, 'w.pth');
    await writeFile(pth, writeTorchCheckpoint(new Map((await readSafetensorsFile(st)).tensors)));
    const a = await readWeightFile(pth);
    const b = await readWeightFile(st);
    expect(a.kind).toBe('torch-checkpoint');
    expect(a.tensors).toEqual(b.tensors);
    expect(a.counters).toEqual(b.counters);
    expect(a.counters.get('bn.num_batches_tracked')?.value).toBe(7);
  });
});
