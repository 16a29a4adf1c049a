import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../testing/helpers.js';
import { DEMO_MARKER, clearDemoRun, markDemoRun } from './demo.js';

describe('the demo deletes only a run folder it made', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir('demo-run');
  });
  afterAll(async () => tmp.cleanup());

  it('deletes its own marked run, and needs nothing for no folder or an empty one', async () => {
    const run = join(tmp.dir, 'own', 'run-quick');
    await markDemoRun(run);
    await writeFile(join(run, 'run.json'), '{}');
    await clearDemoRun(run);
    expect(await readdir(join(tmp.dir, 'own'))).toEqual([]);
    await clearDemoRun(run);
    await mkdir(run);
    await clearDemoRun(run);
  });

  it('refuses, touching nothing, a run (or anything) it did not make: through `unias demo --out` too', async () => {
    const out = join(tmp.dir, 'real');
    const run = join(out, 'run-quick');
    await mkdir(run, { recursive: true });
    await writeFile(join(run, 'run.json'), '{"format":"unias-run/1"}');
    await writeFile(join(run, 'model.safetensors'), 'weights');
    await expect(clearDemoRun(run)).rejects.toThrow(`${run} holds files the demo did not make (no ${DEMO_MARKER})`);
    const r = await runCli(['demo', '--quick', '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds files the demo did not make/);
    expect((await readdir(run)).sort()).toEqual(['model.safetensors', 'run.json']);
    // refused before any work: no dataset was generated
    expect((await readdir(out)).sort()).toEqual(['run-quick']);
    const file = join(tmp.dir, 'file');
    await writeFile(file, 'x');
    await expect(clearDemoRun(file)).rejects.toThrow(/is a file, where the demo puts its run/);
  });
});
