/**
 * Training that survives crashes: a real `unias train` child is killed with SIGKILL at random
 * points (seeded delays after it has made progress, so kills land in steps, log appends and
 * checkpoint writes), then resumed, several times; the run must end with the parameters, optimizer
 * state and losses of an uninterrupted run, bit for bit, with no temporary files left. Then the
 * deterministic cases: a damaged newest checkpoint is passed over for the one before it, and a run
 * whose checkpoints are all damaged is refused naming the file and the tensor.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, readSafetensorsFile } from '@unias/graph';
import { runCli, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STEPS = 10;
const KILLS = 3;
/** What a resumed child says: where it continues (no checkpoint yet when killed before the first). */
const RESUMED = /resuming .* at step \d+ of 10|no checkpoint in .* yet: starting from step 0/;

interface LogLine {
  type: string;
  step: number;
  loss?: number;
}

async function logOf(run: string): Promise<LogLine[]> {
  const text = await readFile(join(run, 'train.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return []; // a line torn by a kill
      }
    });
}

const lossesOf = (lines: readonly LogLine[]) => lines.filter((l) => l.type === 'step').map((l) => [l.step, l.loss]);
const lastStep = async (run: string) => Math.max(0, ...(await logOf(run)).filter((l) => l.type === 'step').map((l) => l.step));

/** Names of tensors whose bytes differ between two safetensors files (their names must agree). */
async function differing(a: string, b: string): Promise<string[]> {
  const fa = await readSafetensorsFile(a);
  const fb = await readSafetensorsFile(b);
  expect([...fb.tensors.keys()].sort()).toEqual([...fa.tensors.keys()].sort());
  return [...fa.tensors].filter(([name, t]) => Buffer.compare(Buffer.from(t.bytes), Buffer.from(fb.tensors.get(name)!.bytes)) !== 0).map(([n]) => n);
}

/** Temporary files and folders of atomic writes anywhere in the run directory (two levels of checkpoints). */
async function tempFiles(run: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.name.endsWith('.tmp')) found.push(join(dir, e.name));
      else if (e.isDirectory() && depth < 2) await walk(join(dir, e.name), depth + 1);
    }
  };
  await walk(run, 0);
  return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('unias train killed with SIGKILL', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let common: string[];
  let reference: string;

  beforeAll(async () => {
    tmp = await tempDir('crash');
    const data = await tinyDataset(join(tmp.dir, 'data'));
    const config = await tinyConfigFile(tmp.dir, data);
    common = ['--config', config, '--steps', String(STEPS), '--checkpoint-every', '1', '--threads', '1', '--eval-every', '0', '--quiet'];
    reference = join(tmp.dir, 'reference');
    const r = await runCli(['train', ...common, '--out', reference]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => tmp.cleanup());

  it(`is killed ${KILLS} times at random points and resumes to the uninterrupted run's parameters, bit for bit`, async () => {
    const run = join(tmp.dir, 'killed');
    const rng = createRng(20261202);
    const report: string[] = [];
    let resumes = 0;
    for (let life = 0; ; life++) {
      const args = life === 0 ? ['train', ...common, '--out', run] : ['train', '--resume', run, '--quiet'];
      if (life > 0) resumes++;
      const before = await lastStep(run);
      const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@unias/source', 'src/bin.ts', ...args], { cwd: cliDir });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      if (life < KILLS) {
        // wait for progress past where this life started, then a random delay of up to ~3 steps
        while ((await lastStep(run)) <= before && child.exitCode === null) await sleep(5);
        expect(child.exitCode, stderr).toBeNull();
        await sleep(rng.int(400));
        child.kill('SIGKILL');
        await exited;
        const temps = await tempFiles(run);
        const ck = (await readdir(join(run, 'checkpoints')).catch(() => [] as string[])).filter((n) => n.startsWith('step-')).sort();
        const newest = ck.at(-1);
        const newestFiles = newest ? (await readdir(join(run, 'checkpoints', newest))).sort().join('+') : 'none';
        const from = life === 0 ? 'new run' : (/resuming .* at (step \d+)/.exec(stderr)?.[1] ?? 'step 0');
        const cleaned = (stderr.match(/left by an interrupted write/g) ?? []).length;
        report.push(
          `life ${life + 1} (${from}${cleaned ? `, ${cleaned} temporary file(s) removed` : ''}) killed: logged step ${await lastStep(run)}, newest checkpoint ${newest ?? 'none'} (${newestFiles}), ${temps.length} temporary file(s) left`,
        );
        if (life > 0) expect(stderr).toMatch(RESUMED);
      } else {
        expect(await exited, stderr).toBe(0);
        expect(stderr).toMatch(RESUMED);
        report.push(`resume ${resumes}: ran to the end from ${/resuming .* at (step \d+)/.exec(stderr)?.[1] ?? 'step 0'}`);
        break;
      }
    }
    console.info(`crash-resume: ${KILLS} SIGKILLs, ${resumes} resumes\n  ${report.join('\n  ')}`);

    // the kills changed nothing: the model, the last checkpoint (optimizer moments, Rng, step) and
    // every step's loss equal the uninterrupted run's
    expect(await differing(join(reference, 'model.safetensors'), join(run, 'model.safetensors'))).toEqual([]);
    const last = join('checkpoints', `step-${String(STEPS).padStart(8, '0')}`, 'state.safetensors');
    expect(await differing(join(reference, last), join(run, last))).toEqual([]);
    const ref = await readSafetensorsFile(join(reference, last));
    const got = await readSafetensorsFile(join(run, last));
    expect(got.metadata['rng']).toBe(ref.metadata['rng']);
    expect(lossesOf(await logOf(run))).toEqual(lossesOf(await logOf(reference)));
    expect(await tempFiles(run)).toEqual([]);
  });

  it('passes over a damaged newest checkpoint for the one before, naming why, and ends the same', async () => {
    // the finished reference run with its model gone and its newest checkpoint damaged as a
    // power loss can leave it; a checkpoint folder a kill left half-written beside it
    const run = join(tmp.dir, 'damaged');
    await cp(reference, run, { recursive: true });
    await rm(join(run, 'model.safetensors'));
    const newest = join(run, 'checkpoints', 'step-00000010', 'state.safetensors');
    const state = await readFile(newest);
    state[state.length - 3]! ^= 0x20;
    await writeFile(newest, state);
    const torn = join(run, 'checkpoints', '.step-00000011.999999999.0123456789ab.tmp');
    await mkdir(torn);
    await writeFile(join(torn, 'loader.json'), '{"step":');
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`removed ${torn}, left by an interrupted write`);
    expect(r.stderr).toMatch(
      /step-00000010 is unusable \(.*step-00000010\/state\.safetensors: .*tensor "[^"]+": its data does not match its checksum.*\); trying the one before/,
    );
    expect(r.stderr).toMatch(/resuming .* at step 9 of 10/);
    expect(await differing(join(reference, 'model.safetensors'), join(run, 'model.safetensors'))).toEqual([]);
    expect(await differing(join(reference, 'checkpoints', 'step-00000010', 'state.safetensors'), newest)).toEqual([]);
    expect(lossesOf(await logOf(run))).toEqual(lossesOf(await logOf(reference)));
    expect(await tempFiles(run)).toEqual([]);
  });

  it('refuses to resume when every checkpoint is damaged, naming each file and tensor', async () => {
    const run = join(tmp.dir, 'all-damaged');
    await cp(reference, run, { recursive: true });
    const cks = (await readdir(join(run, 'checkpoints'))).filter((n) => n.startsWith('step-')).sort();
    expect(cks).toEqual(['step-00000009', 'step-00000010']);
    for (const ck of cks) {
      const path = join(run, 'checkpoints', ck, 'state.safetensors');
      const bytes = await readFile(path);
      bytes[bytes.length - 1]! ^= 0x01;
      await writeFile(path, bytes);
    }
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no usable checkpoint in .*checkpoints: .*step-00000010\/state\.safetensors: .*tensor "[^"]+": its data does not match its checksum.*; .*step-00000009\/state\.safetensors: .*tensor "[^"]+": its data/,
    );
    // nothing was overwritten: the run is as the failure found it
    expect((await readdir(join(run, 'checkpoints'))).sort()).toEqual(['latest.json', ...cks]);
  });
});
