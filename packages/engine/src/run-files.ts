/**
 * The run directory's own file besides checkpoints: `run.json` (the settings and what the first
 * invocation fixed, so that a resumed or extended run behaves the same). A log of the run is a
 * plugin's (the CLI writes `train.jsonl` from the run's callbacks).
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DeviceRequest } from '@unias/backend-onnx';
import { writeFileAtomic } from '@unias/graph';
import { EngineInputError } from './errors.js';
import type { TrainSettings } from './settings/train-settings.js';

export const RUN_FORMAT = 'unias-run/1';
export const RUN_JSON = 'run.json';
export const CHECKPOINTS = 'checkpoints';
export const LATEST = 'latest.json';

/** What the first invocation fixed, so that a resumed or extended run behaves the same. */
export interface RunRecord {
  readonly format: typeof RUN_FORMAT;
  readonly settings: TrainSettings;
  readonly fixed: {
    /** StepLR period in optimizer steps. */
    readonly lrStepSteps: number;
    readonly batchesPerEpoch: number;
    /** A run sized to a time budget: the budget, the measured step time, the steps chosen. */
    readonly budget?: { readonly seconds: number; readonly stepSeconds: number; readonly steps: number; readonly evaluations: number };
  };
  readonly created: string;
}

export async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

export async function readJson<T>(path: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EngineInputError(`${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message.split('\n')[0]}`);
  }
}

export async function writeRunRecord(runDir: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_JSON), `${JSON.stringify(record, null, 2)}\n`);
}

export interface OpenedRun {
  readonly runDir: string;
  /** The resumed run's record; null for a new run (written once its length is known). */
  readonly record: RunRecord | null;
  readonly settings: TrainSettings;
}

/**
 * The run directory and its settings: a new run's (refused where a run already is), or a resumed
 * run's own, with the device and the length the resuming invocation may change.
 */
export async function openRun(o: {
  readonly settings?: TrainSettings;
  readonly resumeDir?: string;
  readonly device?: DeviceRequest;
  readonly extend?: { readonly epochs?: number; readonly steps?: number };
}): Promise<OpenedRun> {
  if (o.resumeDir) {
    const runDir = resolve(o.resumeDir);
    const record = await readJson<RunRecord>(join(runDir, RUN_JSON), 'run settings');
    if (record.format !== RUN_FORMAT) throw new EngineInputError(`${join(runDir, RUN_JSON)}: not a unias run (format ${JSON.stringify(record.format)})`);
    let settings = record.settings;
    if (o.device !== undefined) settings = { ...settings, device: o.device };
    if (o.extend?.epochs !== undefined || o.extend?.steps !== undefined) {
      settings = {
        ...settings,
        train: { ...settings.train, epochs: o.extend.epochs ?? null, steps: o.extend.steps ?? null },
      };
    }
    return { runDir, record, settings };
  }
  if (!o.settings) throw new Error('runTraining: settings or resumeDir is needed');
  const runDir = resolve(o.settings.output.dir);
  if (await exists(join(runDir, RUN_JSON))) {
    throw new EngineInputError(`${runDir} already holds a run; continue it with --resume ${runDir}, or choose another --out`);
  }
  return { runDir, record: null, settings: o.settings };
}
