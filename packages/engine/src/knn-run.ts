/**
 * `unias train --method knn`: fits the nearest-neighbour detector in a run directory laid out like a
 * training run (run.json, metrics.json, model.safetensors), so that eval, predict, export and serve
 * take it like any model. What it reports goes through the callbacks (onStart, onFit, onEvaluation;
 * the caller calls onEnd): a log of the fit is a plugin's, as for a training run.
 */
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { resolveConfig } from '@unias/model';
import { writeFileAtomic } from '@unias/graph';
import { EngineInputError } from './errors.js';
import { stageProgress, type TrainCallbacks } from './callbacks.js';
import type { TrainSettings } from './settings/train-settings.js';
import { openBackend, MODEL_FILE, saveModel, type StoredThresholds, createGraphPredictor } from '@unias/detector';
import { loadData } from './data.js';
import { evaluate, withoutCurves, type Evaluation } from './evaluate.js';
import { fitKnn, knnModelConfig } from './knn-fit.js';
import { normalThresholds } from './thresholds.js';
import { loadModelWeights } from './weights.js';

export interface KnnRunResult {
  readonly runDir: string;
  readonly modelPath: string;
  readonly final: Evaluation | null;
  readonly thresholds: StoredThresholds;
  readonly bankSize: number;
  readonly patchesSeen: number;
  readonly seconds: number;
  readonly classes: readonly string[];
}

export async function runKnnFit(
  settings: TrainSettings,
  o: { callbacks?: TrainCallbacks; skipFinalEval?: boolean; runJson: (dir: string) => Promise<void> },
): Promise<KnnRunResult> {
  const t0 = performance.now();
  const cb = o.callbacks ?? {};
  const log = (line: string) => cb.onLog?.(line);
  const progress = cb.onProgress ?? (() => undefined);
  const runDir = resolve(settings.output.dir);
  const model = knnModelConfig(settings.model, settings.knn);
  let config;
  try {
    config = resolveConfig(model);
  } catch (e) {
    throw new EngineInputError((e as Error).message);
  }
  const { dataset } = await loadData(settings.data);
  const train = dataset.samples.filter((s) => s.split === 'train' && s.label === 0);
  const test = dataset.samples.filter((s) => s.split === 'test');
  if (train.length === 0) throw new EngineInputError('no normal training images to fit the memory bank on');
  const weights = await loadModelWeights(config, { files: settings.weights, backboneWeights: settings.backboneWeights, seed: settings.train.seed });
  const backend = await openBackend(settings.backend, { threads: settings.train.threads, device: settings.device ?? 'auto', log });
  if ((await stat(runDir).catch(() => null)) === null) await mkdir(runDir, { recursive: true });
  await o.runJson(runDir);
  const k = config.knn!;
  log(
    `${dataset.description}\nmodel: knn (${config.backbone.id} taps ${k.taps.map((t) => t.name).join('+')}, ${config.inputSize.join('x')}, ` +
      `grid ${k.grid.join('x')}, ${k.channels} channels), bank ${settings.knn.bankSize} patches by ${settings.knn.subsampling} subsampling, run ${runDir}`,
  );
  await cb.onStart?.({
    method: 'knn',
    runDir,
    settings,
    backbone: config.backbone.id,
    classes: dataset.classes,
    trainImages: train.length,
    testImages: test.length,
    knn: settings.knn,
  });
  const fitted = await fitKnn({
    backend,
    model,
    backboneParams: weights.backbone,
    samples: train,
    knn: settings.knn,
    seed: settings.train.seed,
    onEmbed: stageProgress(cb.onProgress, 'embed', train.length),
    onSubsample: (d, total) => progress('coreset', d, total),
  });
  await cb.onFit?.({
    bankSize: fitted.bank.size,
    patchesSeen: fitted.bank.seen,
    embedSeconds: fitted.seconds.embed,
    subsampleSeconds: fitted.seconds.subsample,
  });

  const predictor = await createGraphPredictor({ backend, config: fitted.config, params: fitted.params });
  const modelPath = join(runDir, MODEL_FILE);
  let final: Evaluation | null = null;
  let thresholds: StoredThresholds;
  try {
    thresholds = await normalThresholds({
      predictor,
      samples: train,
      imageQuantile: settings.thresholds.imageQuantile,
      pixelQuantile: settings.thresholds.pixelQuantile,
      onProgress: stageProgress(cb.onProgress, 'thresholds', train.length),
    });
    await saveModel(modelPath, { preset: settings.preset, config: fitted.model, classes: dataset.classes, thresholds, params: fitted.params });
    if (!o.skipFinalEval && test.length > 0) {
      final = await evaluate({ predictor, samples: test, onProgress: stageProgress(cb.onProgress, 'eval (final)', test.length) });
      await writeFileAtomic(join(runDir, 'metrics.json'), `${JSON.stringify(withoutCurves(final.report), null, 2)}\n`);
      await cb.onEvaluation?.({ kind: 'final', step: 0, epoch: 0, evaluation: final });
    }
  } finally {
    await predictor.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { runDir, modelPath, final, thresholds, bankSize: fitted.bank.size, patchesSeen: fitted.bank.seen, seconds, classes: dataset.classes };
}
