/**
 * Checkpoints under `checkpoints/`: each folder written whole under a temporary name and renamed,
 * then the `latest.json` pointer. Resuming removes the temporary files a killed writer left and
 * takes the newest checkpoint that reads back whole (checksums, loader position), so a process
 * killed at any point loses at most the steps since its last checkpoint.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchLoaderState } from '@unias/datasets';
import { removeStaleTempFiles, syncDirectory, writeFileAtomic } from '@unias/graph';
import { loadTrainingState, saveTrainingState, type TrainingState } from '@unias/training';
import { EngineInputError } from './errors.js';
import { CHECKPOINTS, LATEST, readJson } from './run-files.js';

export interface LoaderCheckpoint {
  readonly step: number;
  readonly loader: BatchLoaderState;
  readonly images: number;
  readonly savedAt: string;
}

const STEP_DIR = /^step-\d{8}$/;

function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** The temporary files of interrupted atomic writes in the run directory and its checkpoints. */
export async function removeStaleTempFilesUnder(runDir: string): Promise<string[]> {
  const ckRoot = join(runDir, CHECKPOINTS);
  const steps = (await readdir(ckRoot).catch(() => [] as string[])).filter((n) => STEP_DIR.test(n));
  const removed: string[] = [];
  for (const dir of [runDir, ckRoot, ...steps.map((n) => join(ckRoot, n))]) removed.push(...(await removeStaleTempFiles(dir)));
  return removed;
}

const CHECKPOINT_FILES = ['state.safetensors', 'loader.json'];

/** A checkpoint folder whose state and loader position both read back whole and agree. */
async function readCheckpoint(dir: string, step: number): Promise<{ state: TrainingState; loader: LoaderCheckpoint }> {
  const state = await loadTrainingState(join(dir, 'state.safetensors'));
  if (state.step !== step) throw new Error(`${join(dir, 'state.safetensors')}: holds step ${state.step}, the folder is for step ${step}`);
  const path = join(dir, 'loader.json');
  const lc = await readJson<LoaderCheckpoint>(path, 'checkpoint');
  if (typeof lc !== 'object' || lc === null || lc.step !== step || typeof lc.loader !== 'object' || lc.loader === null || !Number.isSafeInteger(lc.images)) {
    throw new Error(`${path}: not the loader position of step ${step}`);
  }
  return { state, loader: lc };
}

/**
 * The newest checkpoint that reads back whole. A folder that is incomplete, or whose files are
 * damaged (a power loss, a bad disk), is passed over, saying why, for the next older one.
 * Checkpoints that exist but are all damaged are an error naming each, never a silent restart from
 * step 0.
 */
export async function newestIntactCheckpoint(
  ckRoot: string,
  log: (line: string) => void,
): Promise<{ dir: string; state: TrainingState; loader: LoaderCheckpoint } | null> {
  const names = (await readdir(ckRoot).catch(() => [] as string[]))
    .filter((n) => STEP_DIR.test(n))
    .sort()
    .reverse();
  const problems: string[] = [];
  for (const name of names) {
    const dir = join(ckRoot, name);
    const files = await readdir(dir).catch(() => [] as string[]);
    const lacking = CHECKPOINT_FILES.filter((f) => !files.includes(f));
    if (lacking.length > 0) {
      // what a kill mid-checkpoint left before checkpoints were written as whole folders
      log(`checkpoint ${dir} is incomplete (no ${lacking.join(', ')}); trying the one before`);
      continue;
    }
    try {
      const found = await readCheckpoint(dir, Number(name.slice('step-'.length)));
      return { dir, ...found };
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0]!;
      problems.push(reason);
      log(`checkpoint ${dir} is unusable (${reason}); trying the one before`);
    }
  }
  if (problems.length > 0) {
    throw new EngineInputError(`no usable checkpoint in ${ckRoot}: ${problems.join('; ')} (move the checkpoints away to start the run over)`);
  }
  return null;
}

/**
 * A checkpoint folder appears whole or not at all: its files are written (each fsynced) into a
 * temporary folder that is then renamed to `step-N`; `latest.json` follows, then all but the newest
 * `keep` folders go. Returns the folder.
 */
export async function writeCheckpoint(
  ckRoot: string,
  c: { readonly step: number; readonly state: TrainingState; readonly loader: () => BatchLoaderState; readonly images: number; readonly keep: number },
): Promise<string> {
  const name = stepDirName(c.step);
  const dir = join(ckRoot, name);
  const tmp = join(ckRoot, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await mkdir(tmp, { recursive: true });
  await saveTrainingState(join(tmp, 'state.safetensors'), c.state);
  const lc: LoaderCheckpoint = { step: c.step, loader: c.loader(), images: c.images, savedAt: new Date().toISOString() };
  await writeFileAtomic(join(tmp, 'loader.json'), `${JSON.stringify(lc, null, 2)}\n`);
  // a folder of this step from before a resume (one that was passed over as damaged)
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  await syncDirectory(ckRoot);
  await writeFileAtomic(join(ckRoot, LATEST), `${JSON.stringify({ step: c.step, dir: name })}\n`);
  const all = (await readdir(ckRoot)).filter((n) => STEP_DIR.test(n)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - c.keep))) {
    if (old !== name) await rm(join(ckRoot, old), { recursive: true, force: true });
  }
  return dir;
}
