/**
 * One training run in a run directory: settings in `run.json`, JSONL logs in `train.jsonl`,
 * checkpoints under `checkpoints/` (every N steps, each folder written whole under a temporary name
 * and renamed, then the `latest.json` pointer), periodic evaluation on the test split, and at the end
 * the thresholds, the final evaluation (`metrics.json`) and the model (`model.safetensors`,
 * @unias/exporters' unias layout).
 *
 * Resuming removes the temporary files a killed writer left and takes the newest checkpoint that
 * reads back whole (checksums, loader position), so a process killed at any point loses at most the
 * steps since its last checkpoint.
 *
 * Resuming restores the parameters, the optimizer moments, the step, the Rng that draws dropout and
 * jitter, and the batch loader's position, so N steps give the same parameters whether or not the
 * run was interrupted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createBatchLoader, createSampleReader, type BatchLoaderState, type Sample } from '@unias/datasets';
import { buildInferenceGraph, buildTrainingGraph, countModelFlops, resolveConfig, type ResolvedConfig } from '@unias/model';
import { checkWeights, initParams, removeStaleTempFiles, syncDirectory, writeFileAtomic, type Backend, type TensorData } from '@unias/graph';
import {
  adamw,
  chainedLr,
  constantLr,
  cosineAnnealingLr,
  createTrainingStep,
  linearLr,
  loadTrainingState,
  saveTrainingState,
  stepLr,
  type Schedule,
  type TrainingState,
  type TrainingStep,
} from '@unias/training';
import type { MetricsReport } from '@unias/metrics';
import { EngineInputError } from './errors.js';
import type { TrainCallbacks } from './callbacks.js';
import type { TrainSettings } from './settings/train-settings.js';
import type { DeviceRequest } from '@unias/backend-onnx';
import { openBackend, MODEL_FILE, saveModel, type StoredThresholds, createGraphPredictor, type Predictor } from '@unias/detector';
import { augmentationPolicy, loadData } from './data.js';
import { evaluate, withoutCurves, type Evaluation } from './evaluate.js';
import { createFeatureSource, type FeatureSource } from './features.js';
import { normalThresholds } from './thresholds.js';
import { loadModelWeights, type ModelWeights } from './weights.js';
import { runKnnFit } from './knn-run.js';
import { formatBudget, formatDuration, median, planBudget } from './budget.js';

export const RUN_FORMAT = 'unias-run/1';
export const RUN_JSON = 'run.json';
export const LOG_FILE = 'train.jsonl';
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

export interface TrainRunOptions {
  /** Settings of a new run; ignored on resume (the run's own are used). */
  readonly settings?: TrainSettings;
  /** Resume the run in this directory. */
  readonly resumeDir?: string;
  /** On resume: another device (the run's results do not depend on it beyond float rounding). */
  readonly device?: DeviceRequest;
  /** On resume: a new length (extends the run). */
  readonly extend?: { readonly epochs?: number; readonly steps?: number };
  /** Stop (with a checkpoint) after this many steps of this invocation. */
  readonly stopAfter?: number;
  /** Graceful stop: checkpoint after the current step. */
  readonly signal?: AbortSignal;
  /** Progress, steps, evaluations, checkpoints, the end, and lines for a person. */
  readonly callbacks?: TrainCallbacks;
  /** Evaluate the untrained model first (the demo's "before" number). */
  readonly evalBefore?: boolean;
  /** Skip the final evaluation (thresholds and model are still written). */
  readonly skipFinalEval?: boolean;
}

export interface TrainRunResult {
  readonly runDir: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly completed: boolean;
  /** The trained model (unias-layout safetensors), when the run completed. */
  readonly modelPath: string | null;
  readonly before: Evaluation | null;
  readonly final: Evaluation | null;
  readonly thresholds: StoredThresholds | null;
  readonly imagesPerSecond: number;
  readonly seconds: number;
  readonly featureCache: { hits: number; misses: number; writes: number } | null;
  readonly classes: readonly string[];
  readonly testSamples: readonly Sample[];
  /** Method 'knn': the fitted bank. */
  readonly knn?: { readonly bankSize: number; readonly patchesSeen: number };
}

interface LoaderCheckpoint {
  readonly step: number;
  readonly loader: BatchLoaderState;
  readonly images: number;
  readonly savedAt: string;
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EngineInputError(`${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message.split('\n')[0]}`);
  }
}

const STEP_DIR = /^step-\d{8}$/;

function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** The length of the run in steps. */
function totalStepsOf(settings: TrainSettings, batchesPerEpoch: number): number {
  if (settings.train.steps !== null) return settings.train.steps;
  return (settings.train.epochs ?? 1) * batchesPerEpoch;
}

/**
 * The frozen backbone's share of a training step's FLOPs (backbone forward against the head's
 * forward and backward, about 3x its forward). The feature cache saves at most that share and costs
 * a disk read per image: measured on onnxruntime (bench-results/cli-train.json) it saves nothing at
 * 12% (cpu preset) and 14% (small preset), so 'auto' caches only from 25% on.
 */
export function backboneShare(config: ResolvedConfig): number {
  const f = countModelFlops(buildInferenceGraph(config));
  const backbone = f.byScope['backbone'] ?? 0;
  return backbone / (backbone + 3 * (f.total - backbone));
}

export const AUTO_CACHE_SHARE = 0.25;

function scheduleOf(s: TrainSettings, lrStepSteps: number, totalSteps: number): Schedule {
  const t = s.train;
  let main: Schedule;
  if (t.schedule === 'constant') main = constantLr(t.lr);
  else if (t.schedule === 'cosine') main = cosineAnnealingLr({ lr: t.lr, tMax: Math.max(1, totalSteps) });
  else main = stepLr({ lr: t.lr, stepSize: lrStepSteps, gamma: t.lrGamma });
  if (t.warmupSteps <= 0) return main;
  return chainedLr(t.lr, [
    { schedule: linearLr({ lr: t.lr, startFactor: 0.01, endFactor: 1, totalIters: t.warmupSteps }), baseLr: t.lr },
    { schedule: main, baseLr: t.lr },
  ]);
}

/** The JSONL log: one object per line, appended. */
function createLog(path: string) {
  return async (entry: Record<string, unknown>) => {
    await writeFile(path, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`, { flag: 'a' });
  };
}

/** On resume, drop log lines of steps after the checkpoint (they will be logged again). */
async function truncateLog(path: string, step: number): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const kept = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => {
      try {
        const v = JSON.parse(l) as { step?: number };
        return typeof v.step !== 'number' || v.step <= step;
      } catch {
        return false;
      }
    });
  await writeFileAtomic(path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
}

function summaryOf(e: Evaluation): Record<string, unknown> {
  const r = withoutCurves(e.report);
  return { mean: r.mean, classes: r.classes, seconds: Number(e.seconds.toFixed(2)) };
}

/** The temporary files of interrupted atomic writes in the run directory and its checkpoints. */
async function removeStaleTempFilesUnder(runDir: string): Promise<string[]> {
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
async function newestIntactCheckpoint(
  ckRoot: string,
  log: (line: string) => void,
): Promise<{ dir: string; state: TrainingState; loader: LoaderCheckpoint } | null> {
  const names = (await readdir(ckRoot).catch(() => [] as string[])).filter((n) => STEP_DIR.test(n)).sort().reverse();
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

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const cb = o.callbacks ?? {};
  const log = (line: string) => cb.onLog?.(line);
  const progress = cb.onProgress ?? (() => undefined);
  const tStart = performance.now();

  // ---- run directory and settings
  let runDir: string;
  let record: RunRecord | null = null;
  let settings: TrainSettings;
  if (o.resumeDir) {
    runDir = resolve(o.resumeDir);
    record = await readJson<RunRecord>(join(runDir, RUN_JSON), 'run settings');
    if (record.format !== RUN_FORMAT) throw new EngineInputError(`${join(runDir, RUN_JSON)}: not a unias run (format ${JSON.stringify(record.format)})`);
    settings = record.settings;
    if (o.device !== undefined) settings = { ...settings, device: o.device };
    if (o.extend?.epochs !== undefined || o.extend?.steps !== undefined) {
      settings = {
        ...settings,
        train: { ...settings.train, epochs: o.extend.epochs ?? null, steps: o.extend.steps ?? null },
      };
    }
  } else {
    if (!o.settings) throw new Error('runTraining: settings or resumeDir is needed');
    settings = o.settings;
    runDir = resolve(settings.output.dir);
    if (await exists(join(runDir, RUN_JSON))) {
      throw new EngineInputError(`${runDir} already holds a run; continue it with --resume ${runDir}, or choose another --out`);
    }
  }

  if ((settings.method ?? 'unias') === 'knn') {
    if (o.resumeDir) throw new EngineInputError(`${runDir} is a knn detector: it is fitted in one pass, there is nothing to resume (fit it again with --out)`);
    const k = await runKnnFit(settings, {
      callbacks: cb,
      ...(o.skipFinalEval ? { skipFinalEval: true } : {}),
      runJson: async (dir) => {
        const rec: RunRecord = { format: RUN_FORMAT, settings, fixed: { lrStepSteps: 0, batchesPerEpoch: 0 }, created: new Date().toISOString() };
        await writeFileAtomic(join(dir, RUN_JSON), `${JSON.stringify(rec, null, 2)}\n`);
      },
    });
    const result: TrainRunResult = {
      runDir: k.runDir,
      step: 0,
      totalSteps: 0,
      completed: true,
      modelPath: k.modelPath,
      before: null,
      final: k.final,
      thresholds: k.thresholds,
      imagesPerSecond: 0,
      seconds: k.seconds,
      featureCache: null,
      classes: k.classes,
      testSamples: [],
      knn: { bankSize: k.bankSize, patchesSeen: k.patchesSeen },
    };
    await cb.onEnd?.(result);
    return result;
  }

  // ---- on resume, the checkpoint first: a run that cannot resume fails before any heavy work
  const ckRoot = join(runDir, CHECKPOINTS);
  let resumeFrom: Awaited<ReturnType<typeof newestIntactCheckpoint>> = null;
  if (o.resumeDir) {
    for (const removed of await removeStaleTempFilesUnder(runDir)) log(`removed ${removed}, left by an interrupted write`);
    resumeFrom = await newestIntactCheckpoint(ckRoot, log);
  }

  // ---- model, data, weights
  let config: ResolvedConfig;
  try {
    config = resolveConfig(settings.model);
  } catch (e) {
    throw new EngineInputError((e as Error).message);
  }
  const { dataset, formats } = await loadData(settings.data);
  const train = dataset.samples.filter((s) => s.split === 'train' && s.label === 0);
  const test = dataset.samples.filter((s) => s.split === 'test');
  const bs = settings.train.batchSize;
  if (train.length < bs) throw new EngineInputError(`batch size ${bs} is larger than the ${train.length} training images`);
  const policy = augmentationPolicy(settings.data.augmentation, formats.values());
  const [h, w] = config.inputSize;
  if (h !== w && dataset.classes.some((c) => policy[c]?.rotate)) {
    throw new EngineInputError(`rotation augmentation needs a square input, got ${h}x${w}; use a square model.inputSize or --augment none`);
  }
  const weights: ModelWeights = await loadModelWeights(config, { files: settings.weights, backboneWeights: settings.backboneWeights, seed: settings.train.seed });
  // The device line waits for the run's summary: a setup error after it stays one line.
  const deviceLines: string[] = [];
  let announced = false;
  const deviceLog = (line: string) => (announced ? log(line) : deviceLines.push(line));
  const backend: Backend = await openBackend(settings.backend, { threads: settings.train.threads, device: settings.device ?? 'auto', log: deviceLog });

  const batchesPerEpoch = Math.floor(train.length / bs);
  // A new run with a time budget and no length: the length comes from measured speed (below).
  const budgetSeconds = !record && settings.train.steps === null && settings.train.epochs === null ? settings.train.timeBudget : null;
  const stepPeriodOf = (s: TrainSettings) =>
    s.train.lrStepEpochs !== null ? s.train.lrStepEpochs * batchesPerEpoch : Math.max(1, Math.round(0.4 * totalStepsOf(s, batchesPerEpoch)));
  let lrStepSteps = record?.fixed.lrStepSteps ?? stepPeriodOf(settings);
  let totalSteps = totalStepsOf(settings, batchesPerEpoch);
  const writeRecord = async (r: RunRecord) => {
    await mkdir(runDir, { recursive: true });
    await writeFileAtomic(join(runDir, RUN_JSON), `${JSON.stringify(r, null, 2)}\n`);
  };
  if (!record) {
    await mkdir(runDir, { recursive: true });
    if (budgetSeconds === null) {
      record = { format: RUN_FORMAT, settings, fixed: { lrStepSteps, batchesPerEpoch }, created: new Date().toISOString() };
      await writeRecord(record);
    }
  } else if (record.settings !== settings) {
    await writeFileAtomic(join(runDir, RUN_JSON), `${JSON.stringify({ ...record, settings }, null, 2)}\n`);
  }
  const writeLog = createLog(join(runDir, LOG_FILE));

  // ---- training graph and initial params
  const share = backboneShare(config);
  const useCache = settings.train.featureCache === 'auto' ? share >= AUTO_CACHE_SHARE : settings.train.featureCache;
  const graph = buildTrainingGraph(config, { batchSize: bs, from: useCache ? 'features' : 'image' });
  const given = new Map<string, TensorData>([...weights.head, ...(useCache ? [] : weights.backbone)]);
  try {
    checkWeights(graph, given, { allowExtra: true, allowMissing: (n) => n.startsWith('sem_seg_head.') });
  } catch (e) {
    throw new EngineInputError(`weights (${settings.weights.join(', ')}): ${(e as Error).message}`);
  }
  const params = initParams(graph, settings.train.seed, given);
  const t = settings.train;
  let schedule = scheduleOf(settings, lrStepSteps, totalSteps);
  const tPrepare = performance.now();
  const trainer: TrainingStep = await createTrainingStep({
    model: graph,
    params,
    optimizer: adamw({ lr: t.lr, betas: t.betas, eps: t.eps, weightDecay: t.weightDecay }),
    // read through a reference: a budgeted run lays its schedule once its length is measured
    schedule: (k) => schedule(k),
    ...(t.clipNorm > 0 ? { clipNorm: t.clipNorm } : { reportGradNorm: true }),
    backend,
    seed: t.seed,
  });

  // the end of the run prepares an inference session too: reserve about what this one took
  const prepareSeconds = (performance.now() - tPrepare) / 1000;
  let features: FeatureSource | null = null;
  if (useCache) {
    features = await createFeatureSource({
      backend,
      config,
      backboneParams: weights.backbone,
      backboneHash: weights.backboneHash,
      cacheDir: settings.train.cacheDir ?? join(runDir, 'feature-cache'),
    });
  }

  const reader = features ? features.reader : createSampleReader({ size: { width: w, height: h }, normalize: 'none' });
  const loaderOptions = { samples: train, reader, batchSize: bs, seed: t.seed, augmentation: policy, dropLast: true, prefetch: 2 } as const;

  // ---- a new run measures its speed first (a few real steps, then everything is reset), to say
  // how long it will take and, with a time budget, to choose its length
  if (!o.resumeDir) {
    const stepSeconds = await measureStepSeconds(trainer, createBatchLoader(loaderOptions), features);
    const inferSeconds = (INFER_FRACTION * stepSeconds) / bs;
    if (budgetSeconds !== null) {
      const left = budgetSeconds - (performance.now() - tStart) / 1000 - prepareSeconds;
      const plan = planBudget({
        seconds: left,
        stepSeconds,
        inferSeconds,
        batchesPerEpoch,
        evalEvery: settings.output.evalEvery,
        testImages: test.length,
        trainImages: train.length,
        finalEval: !o.skipFinalEval,
      });
      settings = { ...settings, train: { ...settings.train, steps: plan.steps } };
      totalSteps = plan.steps;
      lrStepSteps = stepPeriodOf(settings);
      schedule = scheduleOf(settings, lrStepSteps, totalSteps);
      record = {
        format: RUN_FORMAT,
        settings,
        fixed: { lrStepSteps, batchesPerEpoch, budget: { seconds: budgetSeconds, stepSeconds: Number(stepSeconds.toFixed(4)), steps: plan.steps, evaluations: plan.evaluations } },
        created: new Date().toISOString(),
      };
      await writeRecord(record);
      const ends = new Date(Date.now() + 1000 * (plan.predicted.train + plan.predicted.evals + plan.predicted.end));
      log(
        `time budget ${formatBudget(budgetSeconds)}: ${stepSeconds.toFixed(2)} s per step measured -> ${plan.steps} steps (${plan.epochs.toFixed(1)} epochs), ` +
          `${plan.evaluations} evaluation(s) on the way; ends about ${ends.toTimeString().slice(0, 5)}`,
      );
    } else {
      const secs = totalSteps * stepSeconds;
      log(`${totalSteps} steps at ${stepSeconds.toFixed(2)} s per step measured: about ${formatDuration(secs)} of training (give --time-budget to fit a length to a budget)`);
    }
  }

  // ---- resume
  let loaderResume: BatchLoaderState | undefined;
  let imagesBefore = 0;
  if (resumeFrom) {
    const { dir, state, loader: lc } = resumeFrom;
    try {
      await trainer.setState(state);
    } catch (e) {
      throw new EngineInputError(`checkpoint ${dir} does not fit this run's model: ${(e as Error).message.split('\n')[0]}`);
    }
    loaderResume = lc.loader;
    imagesBefore = lc.images;
    await truncateLog(join(runDir, LOG_FILE), state.step);
    log(`resuming ${runDir} at step ${state.step} of ${totalSteps}`);
  } else if (o.resumeDir) {
    await truncateLog(join(runDir, LOG_FILE), 0);
    log(`no checkpoint in ${runDir} yet: starting from step 0`);
  }

  let loader;
  try {
    loader = createBatchLoader({ ...loaderOptions, ...(loaderResume ? { resume: loaderResume } : {}) });
  } catch (e) {
    throw new EngineInputError(`cannot resume the data loader: ${(e as Error).message} (was the dataset changed?)`);
  }

  const step0 = (await trainer.getState()).step;
  if (step0 === 0) {
    await writeLog({
      type: 'start',
      step: 0,
      preset: settings.preset,
      backbone: config.backbone.id,
      backbone_weights: weights.backboneSource,
      backend: backend.name,
      classes: dataset.classes,
      train_images: train.length,
      test_images: test.length,
      batches_per_epoch: batchesPerEpoch,
      total_steps: totalSteps,
      lr_step_steps: lrStepSteps,
      feature_cache: useCache,
      backbone_flop_share: Number(share.toFixed(3)),
    });
  }
  log(
    `${dataset.description}\nmodel: ${settings.preset} (${config.backbone.id}, ${config.inputSize.join('x')}), backend ${backend.name}, ` +
      `${totalSteps} steps of ${bs} images (${batchesPerEpoch} per epoch), lr ${t.lr} (${t.schedule}${t.schedule === 'step' ? `, x${t.lrGamma} every ${lrStepSteps} steps` : ''}), ` +
      `feature cache ${useCache ? 'on' : 'off'} (backbone ${(100 * share).toFixed(0)}% of a step), run ${runDir}`,
  );
  announced = true;
  for (const line of deviceLines.splice(0)) log(line);

  const evalWith = async (label: string, predictor: Predictor): Promise<Evaluation | null> => {
    if (test.length === 0) return null;
    return evaluate({ predictor, samples: test, onProgress: (d) => progress(label, d, test.length) });
  };
  const evalOn = async (label: string, params: ReadonlyMap<string, TensorData>): Promise<Evaluation | null> => {
    if (test.length === 0) return null;
    const predictor = await createGraphPredictor({ backend, config, params });
    try {
      return await evalWith(label, predictor);
    } finally {
      await predictor.dispose();
    }
  };
  const fullParams = async (): Promise<Map<string, TensorData>> => {
    const s = await trainer.getState();
    return new Map<string, TensorData>([...weights.backbone, ...s.params]);
  };

  /**
   * A checkpoint folder appears whole or not at all: its files are written (each fsynced) into a
   * temporary folder that is then renamed to `step-N`; `latest.json` follows, then old folders go.
   */
  const checkpoint = async (step: number, images: number): Promise<void> => {
    const name = stepDirName(step);
    const dir = join(ckRoot, name);
    const tmp = join(ckRoot, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    await mkdir(tmp, { recursive: true });
    await saveTrainingState(join(tmp, 'state.safetensors'), await trainer.getState());
    const lc: LoaderCheckpoint = { step, loader: loader.state(), images, savedAt: new Date().toISOString() };
    await writeFileAtomic(join(tmp, 'loader.json'), `${JSON.stringify(lc, null, 2)}\n`);
    // a folder of this step from before a resume (one that was passed over as damaged)
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await syncDirectory(ckRoot);
    await writeFileAtomic(join(ckRoot, LATEST), `${JSON.stringify({ step, dir: name })}\n`);
    const all = (await readdir(ckRoot)).filter((n) => STEP_DIR.test(n)).sort();
    for (const old of all.slice(0, Math.max(0, all.length - settings.output.keepCheckpoints))) {
      if (old !== name) await rm(join(ckRoot, old), { recursive: true, force: true });
    }
    await writeLog({ type: 'checkpoint', step, dir: join(CHECKPOINTS, name) });
    await cb.onCheckpoint?.({ step, dir });
  };

  let before: Evaluation | null = null;
  if (o.evalBefore && step0 === 0) {
    before = await evalOn('eval (untrained)', await fullParams());
    if (before) {
      await writeLog({ type: 'eval', step: 0, epoch: 0, label: 'untrained', ...summaryOf(before) });
      await cb.onEvaluation?.({ kind: 'untrained', step: 0, epoch: 0, evaluation: before });
    }
  }

  // ---- the loop
  let step = step0;
  let images = imagesBefore;
  let ranHere = 0;
  let emaLoss: number | null = null;
  const trainStage = record?.fixed.budget ? `train (budget ${formatBudget(record.fixed.budget.seconds)})` : 'train';
  if (step < totalSteps) progress(trainStage, step, totalSteps);
  const tLoop = performance.now();
  let evalSeconds = 0;
  let stopped = false;
  try {
    while (step < totalSteps) {
      if (o.signal?.aborted || (o.stopAfter !== undefined && ranHere >= o.stopAfter)) {
        stopped = true;
        break;
      }
      const batch = await loader.next();
      const feeds: Record<string, TensorData> = features ? features.take(batch.paths, batch.augmentations) : { image: batch.images };
      const r = await trainer.step(feeds);
      step = r.step;
      ranHere++;
      images += bs;
      if (!Number.isFinite(r.loss)) throw new EngineInputError(`the loss became ${r.loss} at step ${step}; lower the learning rate (--lr)`);
      emaLoss = emaLoss === null ? r.loss : 0.9 * emaLoss + 0.1 * r.loss;
      const elapsed = (performance.now() - tLoop) / 1000 - evalSeconds;
      const ips = (ranHere * bs) / Math.max(elapsed, 1e-9);
      progress(trainStage, step, totalSteps, { loss: emaLoss, 'img/s': ips, epoch: batch.epoch + 1 });
      if (step % settings.output.logEvery === 0 || step === totalSteps) {
        await writeLog({
          type: 'step',
          step,
          epoch: batch.epoch,
          loss: r.loss,
          lr: r.lr,
          ...(r.gradNorm !== undefined ? { grad_norm: r.gradNorm } : {}),
          images,
          images_per_s: Number(ips.toFixed(3)),
        });
      }
      await cb.onStep?.({
        step,
        totalSteps,
        epoch: batch.epoch + 1,
        loss: r.loss,
        smoothedLoss: emaLoss,
        lr: r.lr,
        ...(r.gradNorm !== undefined ? { gradNorm: r.gradNorm } : {}),
        images,
        imagesPerSecond: ips,
      });
      if (step % settings.output.checkpointEvery === 0 && step < totalSteps) await checkpoint(step, images);
      const ev = settings.output.evalEvery;
      if (batch.lastInEpoch && ev > 0 && (batch.epoch + 1) % ev === 0 && step < totalSteps) {
        const te = performance.now();
        const e = await evalOn(`eval epoch ${batch.epoch + 1}`, await fullParams());
        evalSeconds += (performance.now() - te) / 1000;
        if (e) {
          await writeLog({ type: 'eval', step, epoch: batch.epoch + 1, ...summaryOf(e) });
          await cb.onEvaluation?.({ kind: 'epoch', step, epoch: batch.epoch + 1, evaluation: e });
          log(`epoch ${batch.epoch + 1}: pixel AP ${fmt(e.report.mean.pixel_ap)}, pixel AUROC ${fmt(e.report.mean.pixel_auroc)}, image AUROC ${fmt(e.report.mean.image_auroc)}`);
        }
      }
    }
  } finally {
    await loader.close();
  }
  // wall-clock rate of the loop (data, features, steps, checkpoints), evaluations left out
  const loopSeconds = (performance.now() - tLoop) / 1000 - evalSeconds;
  const imagesPerSecond = ranHere > 0 ? (ranHere * bs) / loopSeconds : 0;
  const cacheStats = features ? features.cache.stats() : null;
  await features?.dispose();

  const base = {
    runDir,
    totalSteps,
    before,
    imagesPerSecond,
    featureCache: cacheStats ? { hits: cacheStats.hits, misses: cacheStats.misses, writes: cacheStats.writes } : null,
    classes: dataset.classes,
    testSamples: test,
  };
  if (stopped) {
    if (ranHere > 0) await checkpoint(step, images);
    await trainer.dispose();
    await writeLog({ type: 'stop', step });
    const result: TrainRunResult = { ...base, step, completed: false, modelPath: null, final: null, thresholds: null, seconds: (performance.now() - tStart) / 1000 };
    await cb.onEnd?.(result);
    return result;
  }

  // ---- the end: final checkpoint, thresholds, evaluation, model
  if (ranHere > 0) await checkpoint(step, images);
  const finalParams = await fullParams();
  await trainer.dispose();
  // one session for the thresholds and the final evaluation
  const predictor = await createGraphPredictor({ backend, config, params: finalParams });
  let thresholds: StoredThresholds;
  let final: Evaluation | null = null;
  const modelPath = join(runDir, MODEL_FILE);
  try {
    thresholds = await normalThresholds({
      predictor,
      samples: train,
      imageQuantile: settings.thresholds.imageQuantile,
      pixelQuantile: settings.thresholds.pixelQuantile,
      onProgress: (d) => progress('thresholds', d, train.length),
    });
    const graphParamNames = new Set(buildInferenceGraph(config).params.keys());
    await saveModel(modelPath, {
      preset: settings.preset,
      config: settings.model,
      classes: dataset.classes,
      thresholds,
      params: new Map([...finalParams].filter(([n]) => graphParamNames.has(n))),
    });
    if (!o.skipFinalEval) {
      final = await evalWith('eval (final)', predictor);
      if (final) {
        await writeFileAtomic(join(runDir, 'metrics.json'), `${JSON.stringify(withoutCurves(final.report), null, 2)}\n`);
        await writeLog({ type: 'eval', step, epoch: Math.ceil(step / batchesPerEpoch), label: 'final', ...summaryOf(final) });
        await cb.onEvaluation?.({ kind: 'final', step, epoch: Math.ceil(step / batchesPerEpoch), evaluation: final });
      }
    }
  } finally {
    await predictor.dispose();
  }
  await writeLog({ type: 'end', step, thresholds, images_per_s: Number(imagesPerSecond.toFixed(3)), seconds: Number(((performance.now() - tStart) / 1000).toFixed(1)) });
  const result: TrainRunResult = { ...base, step, completed: true, modelPath, final, thresholds, seconds: (performance.now() - tStart) / 1000 };
  await cb.onEnd?.(result);
  return result;
}

/** Inference per image as a fraction of a training step per image (forward only, no backward). */
const INFER_FRACTION = 0.45;
const CALIBRATION_STEPS = 6;

/**
 * Seconds per step of the training loop (batch loading included), the median of the steps after
 * the first; the trainer is put back to its initial state afterwards, so the run is exactly the
 * one it would have been without measuring.
 */
async function measureStepSeconds(trainer: TrainingStep, loader: ReturnType<typeof createBatchLoader>, features: FeatureSource | null): Promise<number> {
  const initial = await trainer.getState();
  const times: number[] = [];
  try {
    for (let i = 0; i < CALIBRATION_STEPS; i++) {
      const t0 = performance.now();
      const batch = await loader.next();
      const feeds: Record<string, TensorData> = features ? features.take(batch.paths, batch.augmentations) : { image: batch.images };
      await trainer.step(feeds);
      times.push((performance.now() - t0) / 1000);
    }
  } finally {
    await loader.close();
    await trainer.setState(initial);
  }
  return median(times.slice(1));
}

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

export type { MetricsReport };
