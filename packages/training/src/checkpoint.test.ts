import { createOnnxBackend } from '@unias/backend-onnx';
import { createGraph, initParams, readSafetensorsFile, writeSafetensorsFile } from '@unias/graph';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OPTIMIZER_STATE_PREFIX,
  TRAINING_STATE_FORMAT,
  isTrainingStateMetadata,
  loadTrainingState,
  saveTrainingState,
  splitTrainingTensors,
  trainingStateFormatOf,
} from './checkpoint.js';
import { adamw } from './optimizers.js';
import { createTrainingStep } from './training-step.js';
import { smallBatch, smallModel } from './testing/small-model.js';

const dirPromise = mkdtemp(join(tmpdir(), 'unias-ckpt-'));
afterAll(async () => rm(await dirPromise, { recursive: true, force: true }));

describe('training checkpoints', () => {
  it('a run resumed from a checkpoint file in a fresh trainer continues exactly', async () => {
    const g = createGraph({ training: true });
    smallModel(g);
    const params = initParams(g.build(), 3);
    const make = async () =>
      createTrainingStep({
        model: smallModel,
        params,
        optimizer: adamw({ lr: 1e-3 }),
        clipNorm: 1,
        backend: await createOnnxBackend({ intraOpNumThreads: 1 }),
        seed: 9,
      });
    const batches = [1, 2, 3, 4].map(smallBatch);
    const a = await make();
    await a.step(batches[0]!);
    await a.step(batches[1]!);
    const path = join(await dirPromise, 'state.safetensors');
    await saveTrainingState(path, await a.getState());
    const expected = [(await a.step(batches[2]!)).loss, (await a.step(batches[3]!)).loss];
    const b = await make();
    const loaded = await loadTrainingState(path);
    expect(loaded.step).toBe(2);
    await b.setState(loaded);
    expect([(await b.step(batches[2]!)).loss, (await b.step(batches[3]!)).loss]).toEqual(expected);
    await a.dispose();
    await b.dispose();
  });

  it('refuses a weights file that is not a training checkpoint, naming the file', async () => {
    const path = join(await dirPromise, 'weights.safetensors');
    await writeSafetensorsFile(path, { w: { shape: [1], data: [1] } });
    await expect(loadTrainingState(path)).rejects.toThrow(/weights\.safetensors: not a UniAS training checkpoint/);
  });

  const state = (w: number[]) => ({
    step: 5,
    params: new Map([['conv.weight', { dtype: 'float32' as const, shape: [2, 2], data: Float32Array.from(w) }]]),
    optimizer: new Map([['adamw.exp_avg.conv.weight', { dtype: 'float32' as const, shape: [2, 2], data: Float32Array.from([0, 0, 0, 0]) }]]),
    rng: { s: [1, 2, 3, 4] as [number, number, number, number], spare: null },
  });

  it('refuses a checkpoint damaged on disk, naming the file and the tensor', async () => {
    const path = join(await dirPromise, 'damaged.safetensors');
    await saveTrainingState(path, state([1, 2, 3, 4]));
    const bytes = await readFile(path);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    // tensors are stored by sorted name: conv.weight (16 bytes) first, then optimizer.*
    bytes[dataStart + 9]! ^= 0x04;
    await writeFile(path, bytes);
    await expect(loadTrainingState(path)).rejects.toThrow(/damaged\.safetensors: .*tensor "conv\.weight": its data does not match its checksum/);
    bytes[dataStart + 9]! ^= 0x04;
    bytes[dataStart + 16]! ^= 0x01;
    await writeFile(path, bytes);
    await expect(loadTrainingState(path)).rejects.toThrow(/tensor "optimizer\.adamw\.exp_avg\.conv\.weight": its data does not match/);
  });

  it('refuses a checkpoint holding NaN, naming the tensor and element', async () => {
    const path = join(await dirPromise, 'nan.safetensors');
    await saveTrainingState(path, state([1, 2, Number.NaN, 4]));
    await expect(loadTrainingState(path)).rejects.toThrow(/nan\.safetensors: tensor "conv\.weight" holds NaN at element 2/);
  });

  it('refuses a checkpoint whose checksum table was damaged away; still reads version-1 checkpoints', async () => {
    const path = join(await dirPromise, 'nosums.safetensors');
    await saveTrainingState(path, state([1, 2, 3, 4]));
    const text = (await readFile(path)).toString('latin1');
    expect(text).toContain('"unias.crc32"');
    await writeFile(path, Buffer.from(text.replace('"unias.crc32"', '"unias.crc30"'), 'latin1'));
    await expect(loadTrainingState(path)).rejects.toThrow(/nosums\.safetensors: a unias-training-state\/2 checkpoint without its "unias\.crc32" checksums/);
    const v1 = join(await dirPromise, 'v1.safetensors');
    await writeSafetensorsFile(
      v1,
      { w: { shape: [1], data: [7] } },
      { format: 'unias-training-state/1', step: '3', rng: JSON.stringify({ s: [1, 2, 3, 4], spare: null }) },
    );
    const loaded = await loadTrainingState(v1);
    expect(loaded.step).toBe(3);
    expect(Array.from(loaded.params.get('w')!.data)).toEqual([7]);
  });

  it('the format helpers describe the file saveTrainingState writes, read back as plain safetensors', async () => {
    const path = join(await dirPromise, 'format.safetensors');
    await saveTrainingState(path, state([1, 2, 3, 4]));
    const file = await readSafetensorsFile(path);
    // the literal format names files carry on disk: a change here breaks every stored checkpoint
    expect(file.metadata['format']).toBe('unias-training-state/2');
    expect(TRAINING_STATE_FORMAT).toBe('unias-training-state/2');
    expect(trainingStateFormatOf(file.metadata)).toBe(TRAINING_STATE_FORMAT);
    expect(trainingStateFormatOf({ format: 'unias-training-state/1' })).toBe('unias-training-state/1');
    expect(isTrainingStateMetadata({ format: 'pt' })).toBe(false);
    expect(isTrainingStateMetadata({})).toBe(false);
    const names = [...file.tensors.keys()];
    expect(names.some((n) => n.startsWith(OPTIMIZER_STATE_PREFIX))).toBe(true);
    const { params, optimizer } = splitTrainingTensors(file.tensors);
    const loaded = await loadTrainingState(path);
    expect([...params.keys()].sort()).toEqual([...loaded.params.keys()].sort());
    expect([...optimizer.keys()].sort()).toEqual([...loaded.optimizer.keys()].sort());
    expect(params.size + optimizer.size).toBe(names.length);
  });
});
