/**
 * PyTorch checkpoints load as the same weights as safetensors: the official-layout fixture
 * converted to a `ckpt.pth.tar` (the official UniAS checkpoint layout) gives the EfficientNet-B4
 * backbone bit for bit; a checkpoint written by torch 1.13 imports like its safetensors twin.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, type TensorData } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';
import { writeTorchCheckpoint } from '@unias/torch-checkpoint/testing';
import { getBackbone } from '../registry.js';
import { importWeights, loadBackboneWeights } from './load.js';

const torchFixture = (name: string): string => createRequire(import.meta.url).resolve(`@unias/torch-checkpoint/fixtures/${name}`);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-torch-weights-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function expectSameWeights(a: ReadonlyMap<string, TensorData>, b: ReadonlyMap<string, TensorData>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [name, t] of b) {
    const u = a.get(name)!;
    expect(u.shape, name).toEqual(t.shape);
    expect(
      Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
      name,
    ).toBe(true);
  }
}

describe('PyTorch checkpoints as weight files', () => {
  it('a torch 1.13 checkpoint imports exactly as the same tensors in safetensors (num_batches_tracked dropped, options applied)', async () => {
    const options = { stripPrefix: '0.', addPrefix: 'net.' };
    const fromTorch = await importWeights(torchFixture('official-layout.pth.tar'), options);
    expectSameWeights(fromTorch, await importWeights(torchFixture('official-layout.expected.safetensors'), options));
    expect([...fromTorch.keys()]).toContain('net.weight');
    expect([...fromTorch.keys()].some((k) => k.endsWith('num_batches_tracked'))).toBe(false);
  });

  it('the EfficientNet-B4 backbone from an official-layout ckpt.pth.tar equals the one from safetensors, bit for bit', async () => {
    const file = await readSafetensorsFile(FIXTURES.backboneTaps);
    const stateDict = new Map([...file.tensors].map(([name, e]) => [`module.${name}`, e]));
    const path = join(dir, 'ckpt.pth.tar');
    await writeFile(path, writeTorchCheckpoint({ epoch: 1, state_dict: stateDict, best_metric: 0.5 }));
    const bb = getBackbone('efficientnet-b4');
    const options = { stripPrefix: 'backbone.', scope: 'backbone' };
    expectSameWeights(await loadBackboneWeights(bb, { ...options, path }), await loadBackboneWeights(bb, { ...options, path: FIXTURES.backboneTaps }));
  });

  it('a corrupt checkpoint is refused naming the file', async () => {
    const path = join(dir, 'bad.pth');
    await writeFile(path, new Uint8Array([0x80, 0x02, 0x8a]));
    await expect(importWeights(path)).rejects.toThrow(`${path}: pickle LONG1 (0x8a) at byte 2: needs 1 bytes, 0 left: truncated?`);
  });
});
