/**
 * `unias export` from a PyTorch checkpoint, without Python: the official fixture weights packed as
 * the official code's `ckpt.pth.tar` (DDP `module.` prefix, epoch, optimizer) convert to the same
 * safetensors file, byte for byte, as the safetensors fixtures do.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, type SafetensorsEntry } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';
import { writeTorchCheckpoint } from '@unias/torch-checkpoint/testing';
import { runCli, tempDir } from '../testing/helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let ckpt: string;

beforeAll(async () => {
  tmp = await tempDir('export-pth');
  const stateDict = new Map<string, SafetensorsEntry>();
  for (const f of [FIXTURES.backboneTaps, FIXTURES.head]) for (const [name, e] of (await readSafetensorsFile(f)).tensors) stateDict.set(`module.${name}`, e);
  ckpt = join(tmp.dir, 'small_ckpt.pth.tar');
  await writeFile(ckpt, writeTorchCheckpoint({ epoch: 12, state_dict: stateDict, best_metric: 0.9, optimizer: { state: {}, param_groups: [] } }));
});
afterAll(async () => tmp.cleanup());

describe('unias export --weights FILE.pth', () => {
  it('--format safetensors --layout official converts a .pth.tar to the same file as the safetensors weights give', async () => {
    const common = ['--preset', 'small', '--backbone', 'efficientnet-b4', '--format', 'safetensors', '--layout', 'official', '--quiet'];
    const fromPth = join(tmp.dir, 'from-pth.safetensors');
    const fromSafetensors = join(tmp.dir, 'from-safetensors.safetensors');
    const a = await runCli(['export', ...common, '--weights', ckpt, '--out', fromPth]);
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(['export', ...common, '--weights', FIXTURES.backboneTaps, '--weights', FIXTURES.head, '--out', fromSafetensors]);
    expect(b.code, b.stderr).toBe(0);
    expect(Buffer.compare(await readFile(fromPth), await readFile(fromSafetensors))).toBe(0);
  });

  it('a corrupt .pth is one line naming the file', async () => {
    const bad = join(tmp.dir, 'bad.pth');
    const bytes = await readFile(ckpt);
    await writeFile(bad, bytes.subarray(0, bytes.length - 30));
    const r = await runCli(['export', '--preset', 'small', '--weights', bad, '--format', 'safetensors', '--out', join(tmp.dir, 'x.safetensors'), '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`unias: ${bad}: not a readable zip checkpoint: no end-of-central-directory record (truncated, or not a zip file)\n`);
  });
});
