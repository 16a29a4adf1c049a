import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  // `sleep 0.1 &` then `exec sleep 5`: the first sleep ends as the child of a process that never
  // waits, so it stays a zombie (as a killed trainer does when its parent died too and init is slow)
  it.skipIf(process.platform !== 'linux')('counts a zombie writer as dead', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unias-io-'));
    dirs.push(dir);
    const holder = spawn('sh', ['-c', 'sleep 0.1 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => holder.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      const state = () => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]![0];
      for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
      expect(state()).toBe('Z');
      expect(() => process.kill(zombie, 0)).not.toThrow(); // what a pid check alone would call alive
      const name = `.state.safetensors.${zombie}.0123456789ab.tmp`;
      await writeFile(join(dir, name), 'x');
      expect(await removeStaleTempFiles(dir)).toEqual([join(dir, name)]);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
