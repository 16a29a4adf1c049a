/**
 * One training run in a run directory: settings in `run.json`, checkpoints under `checkpoints/` (every N steps, each folder written whole under a temporary name
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
 *
 * What the run reports goes through its callbacks (callbacks.ts): the engine writes no log itself;
 * the CLI's train.jsonl is a plugin (apps/cli/src/run-log.ts).
 *
 * The pieces live beside: run-files.ts (run.json), checkpoints.ts, train-plan.ts (length,
 * schedule, measured speed).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createBatchLoader, createSampleReader, type BatchLoader, type BatchLoaderState, type Sample } from '@unias/datasets';
import { buildInferenceGraph, buildTrainingGraph, resolveConfig, type ResolvedConfig } from '@unias/model';
import { checkWeights, initParams, writeFileAtomic, type Backend, type TensorData } from '@unias/graph';
import { adamw, createTrainingStep, type TrainingStep } from '@unias/training';
import type { MetricsReport } from '@unias/metrics';
import type { DeviceRequest } from '@unias/backend-onnx';
import { openBackend, MODEL_FILE, saveModel, type StoredThresholds, createGraphPredictor, type Predictor } from '@unias/detector';
import { stageProgress, type ProgressCallback, type TrainCallbacks } from './callbacks.js';
import { CHECKPOINTS, RUN_FORMAT, openRun, writeRunRecord, type OpenedRun } from './run-files.js';
import { newestIntactCheckpoint, removeStaleTempFilesUnder, writeCheckpoint } from './checkpoints.js';
import { AUTO_CACHE_SHARE, INFER_FRACTION, backboneShare, measureStepSeconds, scheduleOf, stepPeriodOf, totalStepsOf, warmupStepsOf } from './train-plan.js';
import { EngineInputError } from './errors.js';
import type { TrainSettings } from './settings/train-settings.js';
import { augmentationPolicy, loadData } from './data.js';
import { evaluate, withoutCurves, type Evaluation } from './evaluate.js';
import { createFeatureSource, type FeatureSource } from './features.js';
import { normalThresholds } from './thresholds.js';
import { loadModelWeights, type ModelWeights } from './weights.js';
import { runKnnFit } from './knn-run.js';
import { formatBudget, formatDuration, planBudget, STEP_TIME_MARGIN } from './budget.js';

// the run directory's names and record, and the plan's pieces, are part of the engine's API
export { CHECKPOINTS, LATEST, RUN_FORMAT, RUN_JSON, type RunRecord } from './run-files.js';
export { AUTO_CACHE_SHARE, backboneShare } from './train-plan.js';

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

/**
 * A run in four pieces: open the run directory (`openRun`), prepare everything the loop needs and
 * fix the run's length (`prepareRun`), the loop (`trainLoop`), then the end: the final checkpoint,
 * thresholds, evaluation and model (`finishRun`), or only a checkpoint when the run was stopped.
 */
export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const tStart = performance.now();
  const opened = await openRun(o);
  if ((opened.settings.method ?? 'unias') === 'knn') return fitKnnRun(o, opened);
  const run = await prepareRun(o, opened, tStart);
  const before = o.evalBefore && run.step0 === 0 ? await evaluateUntrained(run) : null;
  const loop = await trainLoop(run);
  return loop.stopped ? stopRun(run, loop, before) : finishRun(run, loop, before);
}

/** The knn method: fitted in one pass, in a run directory laid out like a training run. */
async function fitKnnRun(o: TrainRunOptions, { runDir, record, settings }: OpenedRun): Promise<TrainRunResult> {
  if (record) throw new EngineInputError(`${runDir} is a knn detector: it is fitted in one pass, there is nothing to resume (fit it again with --out)`);
  const cb = o.callbacks ?? {};
  const k = await runKnnFit(settings, {
    callbacks: cb,
    ...(o.skipFinalEval ? { skipFinalEval: true } : {}),
    runJson: (dir) => writeRunRecord(dir, { format: RUN_FORMAT, settings, fixed: { lrStepSteps: 0, batchesPerEpoch: 0 }, created: new Date().toISOString() }),
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

/** Everything the loop and the end share: fixed once the run is prepared. */
interface PreparedRun {
  readonly o: TrainRunOptions;
  readonly cb: TrainCallbacks;
  readonly log: (line: string) => void;
  readonly progress: ProgressCallback;
  readonly tStart: number;
  readonly runDir: string;
  readonly ckRoot: string;
  readonly settings: TrainSettings;
  readonly config: ResolvedConfig;
  readonly classes: readonly string[];
  readonly train: readonly Sample[];
  readonly test: readonly Sample[];
  readonly batchesPerEpoch: number;
  readonly totalSteps: number;
  /** The progress stage of the loop ('train', or 'train (budget 30m)'). */
  readonly trainStage: string;
  readonly weights: ModelWeights;
  readonly backend: Backend;
  readonly trainer: TrainingStep;
  readonly features: FeatureSource | null;
  readonly loader: BatchLoader;
  /** The step the loop starts at (past 0 on resume) and the images seen before it. */
  readonly step0: number;
  readonly imagesBefore: number;
}

/** The model's configuration, the data and the checks on them that fail before any heavy work. */
async function resolveInputs(settings: TrainSettings) {
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
  return { config, dataset, train, test, policy };
}

/**
 * The run's plan: the checkpoint to resume from (first, so a run that cannot resume fails early),
 * model, data, weights and backend, the trainer, the run's length (a new run measures its speed
 * first: to say how long it will take and, with a time budget, to choose its length), the resumed
 * state, and the batch loader.
 */
async function prepareRun(o: TrainRunOptions, opened: OpenedRun, tStart: number): Promise<PreparedRun> {
  const cb = o.callbacks ?? {};
  const log = (line: string) => cb.onLog?.(line);
  const progress: ProgressCallback = cb.onProgress ?? (() => undefined);
  const { runDir } = opened;
  let { record, settings } = opened;

  // ---- on resume, the checkpoint first: a run that cannot resume fails before any heavy work
  const ckRoot = join(runDir, CHECKPOINTS);
  let resumeFrom: Awaited<ReturnType<typeof newestIntactCheckpoint>> = null;
  if (o.resumeDir) {
    for (const removed of await removeStaleTempFilesUnder(runDir)) log(`removed ${removed}, left by an interrupted write`);
    resumeFrom = await newestIntactCheckpoint(ckRoot, log);
  }

  // ---- model, data, weights, backend
  const { config, dataset, train, test, policy } = await resolveInputs(settings);
  const bs = settings.train.batchSize;
  const [h, w] = config.inputSize;
  const weights: ModelWeights = await loadModelWeights(config, {
    files: settings.weights,
    backboneWeights: settings.backboneWeights,
    seed: settings.train.seed,
  });
  // The device line waits for the run's summary: a setup error after it stays one line.
  const deviceLines: string[] = [];
  let announced = false;
  const deviceLog = (line: string) => (announced ? log(line) : deviceLines.push(line));
  const backend: Backend = await openBackend(settings.backend, { threads: settings.train.threads, device: settings.device ?? 'auto', log: deviceLog });

  // ---- the run's length and record
  const batchesPerEpoch = Math.floor(train.length / bs);
  // A new run with a time budget and no length: the length comes from measured speed (below).
  const budgetSeconds = !record && settings.train.steps === null && settings.train.epochs === null ? settings.train.timeBudget : null;
  let lrStepSteps = record?.fixed.lrStepSteps ?? stepPeriodOf(settings, batchesPerEpoch);
  let totalSteps = totalStepsOf(settings, batchesPerEpoch);
  if (!record) {
    await mkdir(runDir, { recursive: true });
    if (budgetSeconds === null) {
      record = { format: RUN_FORMAT, settings, fixed: { lrStepSteps, batchesPerEpoch }, created: new Date().toISOString() };
      await writeRunRecord(runDir, record);
    }
  } else if (record.settings !== settings) {
    await writeRunRecord(runDir, { ...record, settings });
  }

  // ---- training graph, initial params, trainer
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
        stepSeconds: stepSeconds * STEP_TIME_MARGIN,
        inferSeconds,
        batchesPerEpoch,
        evalEvery: settings.output.evalEvery,
        testImages: test.length,
        trainImages: train.length,
        finalEval: !o.skipFinalEval,
      });
      settings = { ...settings, train: { ...settings.train, steps: plan.steps } };
      totalSteps = plan.steps;
      lrStepSteps = stepPeriodOf(settings, batchesPerEpoch);
      schedule = scheduleOf(settings, lrStepSteps, totalSteps);
      record = {
        format: RUN_FORMAT,
        settings,
        fixed: {
          lrStepSteps,
          batchesPerEpoch,
          budget: { seconds: budgetSeconds, stepSeconds: Number(stepSeconds.toFixed(4)), steps: plan.steps, evaluations: plan.evaluations },
        },
        created: new Date().toISOString(),
      };
      await mkdir(runDir, { recursive: true });
      await writeRunRecord(runDir, record);
      const ends = new Date(Date.now() + 1000 * (plan.predicted.train + plan.predicted.evals + plan.predicted.end));
      log(
        `time budget ${formatBudget(budgetSeconds)}: ${stepSeconds.toFixed(2)} s per step measured -> ${plan.steps} steps (${plan.epochs.toFixed(1)} epochs), ` +
          `${plan.evaluations} evaluation(s) on the way; ends about ${ends.toTimeString().slice(0, 5)}`,
      );
    } else {
      const secs = totalSteps * stepSeconds;
      log(
        `${totalSteps} steps at ${stepSeconds.toFixed(2)} s per step measured: about ${formatDuration(secs)} of training (give --time-budget to fit a length to a budget)`,
      );
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
    log(`resuming ${runDir} at step ${state.step} of ${totalSteps}`);
  } else if (o.resumeDir) {
    log(`no checkpoint in ${runDir} yet: starting from step 0`);
  }

  let loader: BatchLoader;
  try {
    loader = createBatchLoader({ ...loaderOptions, ...(loaderResume ? { resume: loaderResume } : {}) });
  } catch (e) {
    throw new EngineInputError(`cannot resume the data loader: ${(e as Error).message} (was the dataset changed?)`);
  }

  const step0 = (await trainer.getState()).step;
  await cb.onStart?.({
    method: 'unias',
    runDir,
    settings,
    backbone: config.backbone.id,
    backboneWeights: weights.backboneSource,
    backend: backend.name,
    classes: dataset.classes,
    trainImages: train.length,
    testImages: test.length,
    batchesPerEpoch,
    totalSteps,
    lrStepSteps,
    featureCache: useCache,
    backboneFlopShare: share,
    resumedFrom: o.resumeDir ? step0 : null,
  });
  log(
    `${dataset.description}\nmodel: ${settings.preset} (${config.backbone.id}, ${config.inputSize.join('x')}), backend ${backend.name}, ` +
      `${totalSteps} steps of ${bs} images (${batchesPerEpoch} per epoch), lr ${t.lr} (${t.schedule}${t.schedule === 'step' ? `, x${t.lrGamma} every ${lrStepSteps} steps` : ''}${warmupText(settings, totalSteps)}), ` +
      `feature cache ${useCache ? 'on' : 'off'} (backbone ${(100 * share).toFixed(0)}% of a step), run ${runDir}`,
  );
  announced = true;
  for (const line of deviceLines.splice(0)) log(line);

  const budget = record?.fixed.budget;
  return {
    o,
    cb,
    log,
    progress,
    tStart,
    runDir,
    ckRoot,
    settings,
    config,
    classes: dataset.classes,
    train,
    test,
    batchesPerEpoch,
    totalSteps,
    trainStage: budget ? `train (budget ${formatBudget(budget.seconds)})` : 'train',
    weights,
    backend,
    trainer,
    features,
    loader,
    step0,
    imagesBefore,
  };
}

/** The backbone's and the trained head's parameters: what an inference graph needs. */
async function fullParams(run: PreparedRun): Promise<Map<string, TensorData>> {
  const s = await run.trainer.getState();
  return new Map<string, TensorData>([...run.weights.backbone, ...s.params]);
}

async function evaluateWith(run: PreparedRun, label: string, predictor: Predictor): Promise<Evaluation | null> {
  if (run.test.length === 0) return null;
  return evaluate({ predictor, samples: run.test, onProgress: stageProgress(run.progress, label, run.test.length) });
}

async function evaluateParams(run: PreparedRun, label: string, params: ReadonlyMap<string, TensorData>): Promise<Evaluation | null> {
  if (run.test.length === 0) return null;
  const predictor = await createGraphPredictor({ backend: run.backend, config: run.config, params });
  try {
    return await evaluateWith(run, label, predictor);
  } finally {
    await predictor.dispose();
  }
}

/** The demo's "before" number: the untrained model on the test split. */
async function evaluateUntrained(run: PreparedRun): Promise<Evaluation | null> {
  const before = await evaluateParams(run, 'eval (untrained)', await fullParams(run));
  if (before) {
    await run.cb.onEvaluation?.({ kind: 'untrained', step: 0, epoch: 0, evaluation: before });
  }
  return before;
}

async function checkpoint(run: PreparedRun, step: number, images: number): Promise<void> {
  const dir = await writeCheckpoint(run.ckRoot, {
    step,
    state: await run.trainer.getState(),
    loader: () => run.loader.state(),
    images,
    keep: run.settings.output.keepCheckpoints,
  });
  await run.cb.onCheckpoint?.({ step, dir });
}

interface LoopResult {
  readonly step: number;
  readonly images: number;
  /** Steps run by this invocation. */
  readonly ranHere: number;
  /** Stopped by the signal or stopAfter before the run's length. */
  readonly stopped: boolean;
  readonly imagesPerSecond: number;
  readonly featureCache: TrainRunResult['featureCache'];
}

/** Steps until the run's length, a stop request or an error; checkpoints and periodic evaluations on the way. */
async function trainLoop(run: PreparedRun): Promise<LoopResult> {
  const { o, cb, settings, totalSteps, trainStage, loader, features, trainer } = run;
  const bs = settings.train.batchSize;
  let step = run.step0;
  let images = run.imagesBefore;
  let ranHere = 0;
  let emaLoss: number | null = null;
  if (step < totalSteps) run.progress(trainStage, step, totalSteps);
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
      run.progress(trainStage, step, totalSteps, { loss: emaLoss, 'img/s': ips, epoch: batch.epoch + 1 });
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
      if (step % settings.output.checkpointEvery === 0 && step < totalSteps) await checkpoint(run, step, images);
      const ev = settings.output.evalEvery;
      if (batch.lastInEpoch && ev > 0 && (batch.epoch + 1) % ev === 0 && step < totalSteps) {
        const te = performance.now();
        const e = await evaluateParams(run, `eval epoch ${batch.epoch + 1}`, await fullParams(run));
        evalSeconds += (performance.now() - te) / 1000;
        if (e) {
          await cb.onEvaluation?.({ kind: 'epoch', step, epoch: batch.epoch + 1, evaluation: e });
          run.log(
            `epoch ${batch.epoch + 1}: pixel AP ${fmt(e.report.mean.pixel_ap)}, pixel AUROC ${fmt(e.report.mean.pixel_auroc)}, image AUROC ${fmt(e.report.mean.image_auroc)}`,
          );
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
  return {
    step,
    images,
    ranHere,
    stopped,
    imagesPerSecond,
    featureCache: cacheStats ? { hits: cacheStats.hits, misses: cacheStats.misses, writes: cacheStats.writes } : null,
  };
}

/** What every result of a unias run holds, completed or stopped. */
function resultBase(run: PreparedRun, loop: LoopResult, before: Evaluation | null) {
  return {
    runDir: run.runDir,
    totalSteps: run.totalSteps,
    before,
    imagesPerSecond: loop.imagesPerSecond,
    featureCache: loop.featureCache,
    classes: run.classes,
    testSamples: run.test,
    step: loop.step,
  };
}

/** A stopped run: a checkpoint of its last step, so that it resumes there. */
async function stopRun(run: PreparedRun, loop: LoopResult, before: Evaluation | null): Promise<TrainRunResult> {
  if (loop.ranHere > 0) await checkpoint(run, loop.step, loop.images);
  await run.trainer.dispose();
  const result: TrainRunResult = {
    ...resultBase(run, loop, before),
    completed: false,
    modelPath: null,
    final: null,
    thresholds: null,
    seconds: (performance.now() - run.tStart) / 1000,
  };
  await run.cb.onEnd?.(result);
  return result;
}

/** The end: final checkpoint, thresholds on the normal training images, the model, the final evaluation. */
async function finishRun(run: PreparedRun, loop: LoopResult, before: Evaluation | null): Promise<TrainRunResult> {
  const { settings, config } = run;
  const step = loop.step;
  if (loop.ranHere > 0) await checkpoint(run, step, loop.images);
  const finalParams = await fullParams(run);
  await run.trainer.dispose();
  // one session for the thresholds and the final evaluation
  const predictor = await createGraphPredictor({ backend: run.backend, config, params: finalParams });
  let thresholds: StoredThresholds;
  let final: Evaluation | null = null;
  const modelPath = join(run.runDir, MODEL_FILE);
  try {
    thresholds = await normalThresholds({
      predictor,
      samples: run.train,
      imageQuantile: settings.thresholds.imageQuantile,
      pixelQuantile: settings.thresholds.pixelQuantile,
      onProgress: stageProgress(run.progress, 'thresholds', run.train.length),
    });
    const graphParamNames = new Set(buildInferenceGraph(config).params.keys());
    await saveModel(modelPath, {
      preset: settings.preset,
      config: settings.model,
      classes: run.classes,
      thresholds,
      params: new Map([...finalParams].filter(([n]) => graphParamNames.has(n))),
    });
    if (!run.o.skipFinalEval) {
      final = await evaluateWith(run, 'eval (final)', predictor);
      if (final) {
        const epoch = Math.ceil(step / run.batchesPerEpoch);
        await writeFileAtomic(join(run.runDir, 'metrics.json'), `${JSON.stringify(withoutCurves(final.report), null, 2)}\n`);
        await run.cb.onEvaluation?.({ kind: 'final', step, epoch, evaluation: final });
      }
    }
  } finally {
    await predictor.dispose();
  }
  const result: TrainRunResult = {
    ...resultBase(run, loop, before),
    completed: true,
    modelPath,
    final,
    thresholds,
    seconds: (performance.now() - run.tStart) / 1000,
  };
  await run.cb.onEnd?.(result);
  return result;
}

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}

export type { MetricsReport };

function warmupText(settings: TrainSettings, totalSteps: number): string {
  const w = warmupStepsOf(settings, totalSteps);
  return w > 0 ? `, ${w} warm-up steps` : '';
}
