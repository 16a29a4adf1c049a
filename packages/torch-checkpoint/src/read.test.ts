/**
 * Golden tests: checkpoints written by real torch.save (fixtures/, see PROVENANCE.md) read bit for
 * bit as the same tensors written as safetensors by the same script.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, entryToFloat32, type SafetensorsEntry } from '@unias/graph';
import {
  PyDict,
  TorchTensor,
  TorchCheckpointError,
  checkpointAsSafetensors,
  checkpointTensorData,
  isTorchCheckpointPath,
  readTorchCheckpoint,
  readTorchCheckpointFile,
} from './index.js';

import { writeStoredZip } from './testing/stored-zip.js';
import { ELEMENT_SIZE, storageFor } from './torch-globals.js';
import { PyGlobal } from './py-values.js';
import { readZip } from './zip.js';
import { readZipCheckpoint } from './zip-format.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

async function expected(name: string): Promise<ReadonlyMap<string, SafetensorsEntry>> {
  const bytes = await readFile(fixture(name));
  return decodeSafetensors(new Uint8Array(bytes), name).tensors;
}

function expectSameTensors(actual: ReadonlyMap<string, SafetensorsEntry>, want: ReadonlyMap<string, SafetensorsEntry>): void {
  expect([...actual.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const a = actual.get(name)!;
    expect({ name, dtype: a.dtype, shape: a.shape }).toEqual({ name, dtype: w.dtype, shape: w.shape });
    // Bytes, not values: NaN, -0 and subnormals must survive exactly.
    expect(Buffer.from(a.bytes).equals(Buffer.from(w.bytes)), `${name} bytes`).toBe(true);
  }
}

const BASIC_ORDER = [
  'f32',
  'f32_nan',
  'f64',
  'f16',
  'bf16',
  'i64',
  'num_batches_tracked',
  'i32',
  'u8',
  'flag',
  'empty',
  'base',
  'transposed',
  'window',
  'shared_a',
  'shared_b',
  'half_t',
  'param',
];

describe('zip checkpoints (torch >= 1.6)', () => {
  it('every dtype, views with offsets and strides, shared storages: bit for bit the safetensors of the same tensors, in file order', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('basic.pt'));
    expect(ckpt.format).toBe('zip');
    expect(ckpt.path).toEqual([]);
    expect(ckpt.skipped).toEqual([]);
    expect([...ckpt.tensors.keys()]).toEqual(BASIC_ORDER);
    expectSameTensors(ckpt.tensors, await expected('basic.expected.safetensors'));
  });

  it('a transposed view and a window read as the values they show', async () => {
    const t = checkpointTensorData(await readTorchCheckpointFile(fixture('basic.pt')));
    const base = Array.from({ length: 24 }, (_, i) => i / 8 - 1);
    expect(t.get('transposed')!.shape).toEqual([6, 4]);
    expect(Array.from(t.get('transposed')!.data)).toEqual(Array.from({ length: 24 }, (_, i) => base[(i % 4) * 6 + Math.floor(i / 4)]));
    expect(Array.from(t.get('window')!.data)).toEqual([8, 9, 10, 14, 15, 16].map((i) => base[i]));
    expect(t.get('i64')!.dtype).toBe('int32');
    expect(Array.from(t.get('num_batches_tracked')!.data)).toEqual([1234]);
    expect(t.get('num_batches_tracked')!.shape).toEqual([]);
  });

  it('float16 and bfloat16 become float32 exactly as the safetensors importer converts them', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('basic.pt'));
    const want = await expected('basic.expected.safetensors');
    const data = checkpointTensorData(ckpt);
    for (const name of ['f16', 'bf16', 'half_t', 'f32', 'f64']) {
      const got = data.get(name)!;
      expect(got.dtype).toBe('float32');
      expect(Buffer.from((got.data as Float32Array).buffer).equals(Buffer.from(entryToFloat32(want.get(name)!).buffer)), name).toBe(true);
    }
    expect(checkpointAsSafetensors(ckpt).metadata).toEqual({ format: 'pt' });
  });

  it('a file written on a big-endian machine (byteorder "big") reads as the same little-endian tensors', async () => {
    const original = new Uint8Array(await readFile(fixture('basic.pt')));
    const zip = readZip(original, 'basic.pt');
    const root = readZipCheckpoint(original, 'basic.pt', false).root as PyDict;
    const sizes = new Map([...root.map.values()].map((t) => [`basic/data/${(t as TorchTensor).storage.key}`, ELEMENT_SIZE[(t as TorchTensor).storage.dtype]]));
    const entries = [...zip.entries.keys()].map((name) => {
      const data = zip.read(name).slice();
      const el = sizes.get(name) ?? 1;
      for (let i = 0; i < data.length; i += el) data.subarray(i, i + el).reverse();
      return [name, data] as const;
    });
    const big = writeStoredZip([...entries, ['basic/byteorder', new TextEncoder().encode('big')]]);
    expectSameTensors(readTorchCheckpoint(big).tensors, await expected('basic.expected.safetensors'));
  });

  it('DEFLATE entries (a checkpoint re-zipped by another tool) read the same', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('deflated.pt'));
    expectSameTensors(ckpt.tensors, await expected('basic.expected.safetensors'));
  });

  it('the official UniAS layout: state_dict under "state_dict", module. prefix removed, the config class skipped unread', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('official-layout.pth.tar'));
    expect(ckpt.path).toEqual(['state_dict']);
    expect(ckpt.strippedPrefix).toBe('module.');
    expect(ckpt.skipped).toEqual(['__main__.Arch']);
    expectSameTensors(ckpt.tensors, await expected('official-layout.expected.safetensors'));
    const kept = readTorchCheckpoint(await readFile(fixture('official-layout.pth.tar')), { keepModulePrefix: true });
    expect([...kept.tensors.keys()][0]).toBe('module.0.weight');
  });

  it('a state_dict two levels down ({"model": {"state_dict": ...}}), or where the caller says', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('nested.pt'));
    expect(ckpt.path).toEqual(['model', 'state_dict']);
    expectSameTensors(ckpt.tensors, await expected('nested.expected.safetensors'));
    await expect(readTorchCheckpointFile(fixture('nested.pt'), { key: ['model'] })).rejects.toThrow(
      /nested\.pt: \["model"\] holds OrderedDict at "state_dict", not a tensor/,
    );
    await expect(readTorchCheckpointFile(fixture('nested.pt'), { key: ['weights'] })).rejects.toThrow(
      /the file has no key "weights" \(keys: model \(dict\), step \(int\)\)/,
    );
  });

  it('strict mode refuses any class beyond what a state_dict needs, naming it and the opcode', async () => {
    await expect(readTorchCheckpointFile(fixture('official-layout.pth.tar'), { strict: true })).rejects.toThrow(
      /official-layout\.pth\.tar \(official-layout\.pth\/data\.pkl\): pickle GLOBAL \(0x63\) at byte \d+: refused: __main__\.Arch is not one of the classes a state_dict needs/,
    );
    await expect(readTorchCheckpointFile(fixture('basic.pt'), { strict: true })).resolves.toBeDefined();
  });

  it('torch.save(model) is refused, naming the class', async () => {
    const err = await readTorchCheckpointFile(fixture('whole-module.pt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TorchCheckpointError);
    expect((err as Error).message).toMatch(
      /whole-module\.pt: the file holds an object of torch\.nn\.modules\.linear\.Linear .*save model\.state_dict\(\) instead/,
    );
  });
});

describe('legacy checkpoints (torch < 1.6, or _use_new_zipfile_serialization=False)', () => {
  it('the same tensors, bit for bit', async () => {
    const ckpt = await readTorchCheckpointFile(fixture('legacy.pt'));
    expect(ckpt.format).toBe('legacy');
    expect([...ckpt.tensors.keys()]).toEqual(BASIC_ORDER);
    expectSameTensors(ckpt.tensors, await expected('basic.expected.safetensors'));
  });
});

describe('what is not a checkpoint', () => {
  it('a storage type is looked up as an own key: torch.constructor names none', () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(() => storageFor('x.pth', new Map(), { storageType: new PyGlobal('torch', name), key: '0', location: 'cpu', numel: 4 })).toThrow(
        new RegExp(`x\\.pth: .*storage type torch\\.${name} is not supported`),
      );
    }
    expect(storageFor('x.pth', new Map(), { storageType: new PyGlobal('torch', 'FloatStorage'), key: '0', location: 'cpu', numel: 4 }).numel).toBe(4);
  });

  it('names the file and the reason', () => {
    expect(() => readTorchCheckpoint(new Uint8Array(0), { source: 'x.pth' })).toThrow('x.pth: not a PyTorch checkpoint: the file is empty');
    expect(() => readTorchCheckpoint(new TextEncoder().encode('{"a": 1}'), { source: 'x.pth' })).toThrow(
      /x\.pth: not a PyTorch checkpoint: neither a zip archive/,
    );
    expect(() => readTorchCheckpoint(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0]), { source: 'x.pth' })).toThrow(
      /x\.pth: not a readable zip checkpoint: no end-of-central-directory record/,
    );
  });

  it('file names', () => {
    expect(['a.pth', 'b.PT', 'ckpt.pth.tar'].map(isTorchCheckpointPath)).toEqual([true, true, true]);
    expect(['a.safetensors', 'a.tar', 'a.onnx'].map(isTorchCheckpointPath)).toEqual([false, false, false]);
  });

  it('a missing file', async () => {
    await expect(readTorchCheckpointFile('/nonexistent/x.pth')).rejects.toThrow('/nonexistent/x.pth: cannot read the checkpoint: ENOENT');
  });
});
