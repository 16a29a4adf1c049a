/**
 * Caches like a good citizen (issue #12 item 6): what `unias` caches goes to $UNIAS_CACHE_DIR, else
 * $XDG_CACHE_HOME/unias, else ~/.cache/unias, and never into the working folder; a read-only working
 * folder works. The CLI runs as a real child process whose working folder it cannot write (as another
 * user when the tests run as root, where permission bits do not stop writes), and the test looks
 * for the knn baseline's cache file (written by every `unias eval` of a UniAS model) where each
 * setting says it goes, and nowhere else.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// an absolute loader URL: the child's working folder is not inside the repository
const tsx = pathToFileURL(createRequire(join(cliDir, 'package.json')).resolve('tsx')).href;
const NOBODY = 65534;
// Under root, run as `nobody` when it can reach node and the sources (a checkout under /root cannot);
// otherwise as ourselves: the working folder's bits bind no root, but "nothing written there" still holds.
const asOther =
  process.getuid?.() === 0 &&
  spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(cliDir, 'src', 'bin.ts'))})`], { uid: NOBODY, gid: NOBODY }).status === 0;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let run: string;

/** Every file below `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** `unias ARGS` in `cwd` with exactly the environment variables given (plus PATH), unable to write `cwd`. */
function unias(args: readonly string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', tsx, '--conditions=@unias/source', join(cliDir, 'src', 'bin.ts'), ...args], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    ...(asOther ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

beforeAll(async () => {
  tmp = await tempDir('cache-files');
  data = await tinyDataset(join(tmp.dir, 'data'));
  run = join(tmp.dir, 'run');
  const config = await tinyConfigFile(tmp.dir, data);
  const t = await runCli(['train', '--config', config, '--method', 'unias', '--steps', '2', '--out', run, '--quiet']);
  expect(t.code, t.stderr).toBe(0);
  // the child may run as another user: it reads the data and the run, and writes only where told
  await chmod(tmp.dir, 0o755);
}, 180_000);
afterAll(async () => tmp.cleanup());

describe('caches and the working folder', () => {
  it.each([
    ['UNIAS_CACHE_DIR', (home: string) => ({ UNIAS_CACHE_DIR: join(home, 'mine'), XDG_CACHE_HOME: join(home, 'xdg') }), 'mine'],
    ['XDG_CACHE_HOME', (home: string) => ({ XDG_CACHE_HOME: join(home, 'xdg') }), 'xdg/unias'],
    ['neither: ~/.cache/unias', () => ({}), '.cache/unias'],
  ] as const)(
    'unias eval caches under %s and writes nothing into a read-only working folder',
    async (label, extraEnv, expected) => {
      const base = join(tmp.dir, label.replace(/\W+/g, '-'));
      const home = join(base, 'home');
      const cwd = join(base, 'cwd');
      const out = join(base, 'out');
      for (const d of [home, cwd, out]) await mkdir(d, { recursive: true });
      for (const d of [base, home, out]) await chmod(d, 0o777);
      await chmod(cwd, 0o555);
      const r = await unias(['eval', '--model', run, '--out', out, '--threads', '1', '--no-report'], cwd, { HOME: home, ...extraEnv(home) });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/against the .*nearest/);
      expect(await filesUnder(cwd)).toEqual([]);
      expect(await filesUnder(out)).toContain('metrics.json');
      const cached = (await filesUnder(home)).filter((f) => f.includes('baselines'));
      expect(cached.length, r.out).toBe(1);
      expect(cached[0]!.startsWith(`${expected}/baselines/knn-`)).toBe(true);
    },
    120_000,
  );
});
