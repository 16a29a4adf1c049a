/**
 * The `unias` command starts the commands that run models again with huge pages: checked against
 * what the child itself reports (`doctor --json`), the exit code and output passed through, and a
 * SIGKILL of the parent taking the child with it (no orphaned trainer).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hugePageStatus, readHugePageFacts, type HugePageStatus } from '@unias/backend-onnx';
import { canRestart, findSetpriv, runsModels } from './huge-pages-respawn.js';
import { tempDir, tinyConfigFile, tinyDataset } from './testing/helpers.js';

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = ['--import', 'tsx', '--conditions=@unias/source', 'src/bin.ts'];

/** This environment without GLIBC_TUNABLES (and with `extra`). */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['GLIBC_TUNABLES'];
  return env;
}

const can: HugePageStatus = { active: false, canEnable: true, reason: '' };
const here = hugePageStatus(readHugePageFacts(envWith()));
const setpriv = findSetpriv();
const respawns = here.canEnable && setpriv !== undefined;

describe('unias with huge pages', () => {
  it('starts itself again only for the commands that run models, and only where it helps', () => {
    for (const argv of [['train', '--config', 'x'], ['demo'], ['serve', 'm.onnx'], ['--debug', 'eval', 'r'], ['doctor', '--json']])
      expect(runsModels(argv), argv.join(' ')).toBe(true);
    for (const argv of [['metrics', 'x'], ['weights', 'list'], ['train', '--help'], ['--version'], []]) expect(runsModels(argv), argv.join(' ')).toBe(false);
    expect(canRestart(can, '/usr/bin/setpriv')).toBe(true);
    expect(canRestart({ ...can, canEnable: false }, '/usr/bin/setpriv')).toBe(false);
    expect(canRestart(can, undefined)).toBe(false);
  });

  it(`doctor, as the commands that run models, reports huge pages ${respawns ? 'on' : 'as here'}, and off with UNIAS_HUGE_PAGES=0`, () => {
    const pages = (env: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, [...BIN, 'doctor', '--json'], { cwd: cliDir, env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { machine: { huge_pages: HugePageStatus } }).machine.huge_pages;
    };
    expect(pages(envWith()).active).toBe(respawns || here.active);
    const off = pages(envWith({ UNIAS_HUGE_PAGES: '0' }));
    expect(off.active).toBe(here.active);
    if (here.canEnable) expect(off.reason).toMatch(/UNIAS_HUGE_PAGES=0/);
  });

  it("passes the child's exit code and output through once", () => {
    const r = spawnSync(process.execPath, [...BIN, 'eval', '--no-such-option'], { cwd: cliDir, env: envWith(), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.match(/--no-such-option/g)?.length, r.stderr).toBe(1);
  });

  describe.skipIf(!respawns)('a SIGKILL of the parent', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      tmp = await tempDir('huge-pages');
    });
    afterAll(async () => tmp.cleanup());

    const childrenOf = (pid: number) =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ")"
            const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
            return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
          } catch {
            return false;
          }
        })
        .map(Number);
    // a killed child whose parent is gone may stay a zombie until init reaps it: dead all the same
    const alive = (pid: number) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return !'ZX'.includes(stat.slice(stat.lastIndexOf(')') + 2)[0]!);
      } catch {
        return false;
      }
    };

    it('takes the training child with it', async () => {
      const data = await tinyDataset(join(tmp.dir, 'data'));
      const config = await tinyConfigFile(tmp.dir, data);
      const parent = spawn(
        process.execPath,
        [...BIN, 'train', '--config', config, '--steps', '100000', '--threads', '1', '--eval-every', '0', '--quiet', '--out', join(tmp.dir, 'run')],
        {
          cwd: cliDir,
          env: envWith(),
        },
      );
      let stderr = '';
      parent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise((r) => parent.once('exit', r));
      let child: number | undefined;
      for (let i = 0; i < 600 && child === undefined && parent.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 50));
        child = childrenOf(parent.pid!)[0];
      }
      expect(child, stderr).toBeDefined();
      // the child is the trainer: a Node process started with the tunable (found between fork and
      // exec its environment can read empty, so it is read until the exec is done)
      const environ = () => readFileSync(`/proc/${child}/environ`, 'utf8').split('\0');
      for (let i = 0; i < 100 && !environ().some((v) => v.startsWith('GLIBC_TUNABLES=')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(environ()).toContain('GLIBC_TUNABLES=glibc.malloc.hugetlb=1');
      parent.kill('SIGKILL');
      await exited;
      for (let i = 0; i < 100 && alive(child!); i++) await new Promise((r) => setTimeout(r, 20));
      const orphaned = alive(child!);
      if (orphaned) process.kill(child!, 'SIGKILL');
      expect(orphaned).toBe(false);
    });
  });
});
