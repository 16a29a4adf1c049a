import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './io.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('writeFileAtomic', () => {
  it('lets concurrent writers of one path each land whole, leaving no temporary files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unias-io-'));
    dirs.push(dir);
    const path = join(dir, 'out.txt');
    const contents = Array.from({ length: 16 }, (_, i) => `writer ${i} `.repeat(1000));
    await Promise.all(contents.map((c) => writeFileAtomic(path, c)));
    expect(contents).toContain(await readFile(path, 'utf8'));
    expect(await readdir(dir)).toEqual(['out.txt']);
  });

  it('writes and reads back a safetensors file, creating folders', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unias-io-'));
    dirs.push(dir);
    const path = join(dir, 'a', 'b', 'w.safetensors');
    await writeSafetensorsFile(path, { w: { shape: [2], data: [1, 2] } }, { k: 'v' });
    const f = await readSafetensorsFile(path);
    expect(f.metadata).toEqual({ k: 'v' });
    expect(f.tensors.get('w')!.shape).toEqual([2]);
    await expect(readSafetensorsFile(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot read weights file .*missing\.safetensors: ENOENT/);
  });
});
