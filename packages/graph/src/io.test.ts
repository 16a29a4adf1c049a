import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, removeStaleTempFiles, writeFileAtomic, writeSafetensorsFile } from './io.js';

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

describe('removeStaleTempFiles', () => {
  it('removes temporary files of dead writers only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unias-io-'));
    dirs.push(dir);
    // a pid that certainly belonged to a process that has exited
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    const dead = `.state.safetensors.${deadPid}.0123456789ab.tmp`;
    const mine = `.state.safetensors.${process.pid}.0123456789ab.tmp`;
    const other = '.notes.tmp';
    for (const n of [dead, mine, other, 'state.safetensors']) await writeFile(join(dir, n), 'x');
    expect(await removeStaleTempFiles(dir)).toEqual([join(dir, dead)]);
    expect((await readdir(dir)).sort()).toEqual([mine, other, 'state.safetensors'].sort());
  });
});
