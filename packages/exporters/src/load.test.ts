/**
 * loadModelFiles on PyTorch checkpoints: the official fixture weights (EfficientNet-B4 taps and the
 * small head, as the official UniAS code saved them) packed into one `ckpt.pth.tar` in the official
 * checkpoint layout load as exactly the model the safetensors files give.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, type SafetensorsEntry } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';
import { writeTorchCheckpoint } from '@unias/torch-checkpoint/testing';
import { loadModelFiles } from './index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-load-torch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadModelFiles with PyTorch checkpoints', () => {
  it('an official-layout ckpt.pth.tar (DDP module. prefix, epoch, optimizer) loads the same tensors and buffers as the safetensors files, bit for bit', async () => {
    const stateDict = new Map<string, SafetensorsEntry>();
    for (const f of [FIXTURES.backboneTaps, FIXTURES.head]) for (const [name, e] of (await readSafetensorsFile(f)).tensors) stateDict.set(`module.${name}`, e);
    const path = join(dir, 'small_ckpt.pth.tar');
    await writeFile(
      path,
      writeTorchCheckpoint({ epoch: 12, arch: { hidden: 64 }, state_dict: stateDict, best_metric: 0.9, optimizer: { state: {}, param_groups: [] } }),
    );

    const fromTorch = await loadModelFiles([path], { preset: 'small' });
    const fromSafetensors = await loadModelFiles([FIXTURES.backboneTaps, FIXTURES.head], { preset: 'small' });
    expect(fromTorch.files).toEqual([{ path, layout: 'official', tensors: fromSafetensors.params.size }]);
    expect([...fromTorch.params.keys()].sort()).toEqual([...fromSafetensors.params.keys()].sort());
    for (const [name, t] of fromSafetensors.params) {
      const u = fromTorch.params.get(name)!;
      expect(u.shape, name).toEqual(t.shape);
      expect(
        Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
        name,
      ).toBe(true);
    }
    expect(fromTorch.buffers).toEqual(fromSafetensors.buffers);
  });

  it('a checkpoint without a state_dict is an error naming the file and what it holds', async () => {
    const path = join(dir, 'empty.pth');
    await writeFile(path, writeTorchCheckpoint({ epoch: 1 }));
    await expect(loadModelFiles([path], { preset: 'small' })).rejects.toThrow(`${path}: no state_dict found: the file holds a dict with keys epoch (int)`);
  });
});
