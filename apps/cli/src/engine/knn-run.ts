/**
 * `unias train --method knn`: fits the nearest-neighbour detector in a run directory laid out like a
 * training run (run.json, train.jsonl, metrics.json, model.safetensors), so that eval, predict,
 * export and serve take it like any model.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { resolveConfig } from '@unias/model';
import { writeFileAtomic } from '@unias/graph';
import { UserError } from '../errors.js';
import { createProgress } from '../progress.js';
import type { TrainSettings } from '../config/train-config.js';
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
  o: { log?: (line: string) => void; progress?: boolean; skipFinalEval?: boolean; runJson: (dir: string) => Promise<void> },
): Promise<KnnRunResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const show = o.progress ?? true;
  const runDir = resolve(settings.output.dir);
  const model = knnModelConfig(settings.model, settings.knn);
  let config;
  try {
    config = resolveConfig(model);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { dataset } = await loadData(settings.data);
  const train = dataset.samples.filter((s) => s.split === 'train' && s.label === 0);
  const test = dataset.samples.filter((s) => s.split === 'test');
  if (train.length === 0) throw new UserError('no normal training images to fit the memory bank on');
  const weights = await loadModelWeights(config, { files: settings.weights, backboneWeights: settings.backboneWeights, seed: settings.train.seed });
  const backend = await openBackend(settings.backend, { threads: settings.train.threads, device: settings.device ?? 'auto', log });
  if ((await stat(runDir).catch(() => null)) === null) await mkdir(runDir, { recursive: true });
  await o.runJson(runDir);
  const logPath = join(runDir, 'train.jsonl');
  const writeLog = async (entry: Record<string, unknown>) => writeFile(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`, { flag: 'a' });
  const k = config.knn!;
  log(
    `${dataset.description}\nmodel: knn (${config.backbone.id} taps ${k.taps.map((t) => t.name).join('+')}, ${config.inputSize.join('x')}, ` +
      `grid ${k.grid.join('x')}, ${k.channels} channels), bank ${settings.knn.bankSize} patches by ${settings.knn.subsampling} subsampling, run ${runDir}`,
  );
  await writeLog({ type: 'start', method: 'knn', backbone: config.backbone.id, classes: dataset.classes, train_images: train.length, test_images: test.length, knn: settings.knn });
  const embedBar = show ? createProgress({ total: train.length, label: 'embed' }) : null;
  let subBar: ReturnType<typeof createProgress> | null = null;
  const fitted = await fitKnn({
    backend,
    model,
    backboneParams: weights.backbone,
    samples: train,
    knn: settings.knn,
    seed: settings.train.seed,
    onEmbed: (d) => embedBar?.update(d),
    onSubsample: (d, total) => {
      if (show && !subBar) {
        embedBar?.done();
        subBar = createProgress({ total, label: 'coreset' });
      }
      subBar?.update(d);
    },
  });
  embedBar?.done();
  (subBar as ReturnType<typeof createProgress> | null)?.done();
  await writeLog({ type: 'fit', bank_size: fitted.bank.size, patches_seen: fitted.bank.seen, embed_s: fitted.seconds.embed, subsample_s: fitted.seconds.subsample });

  const predictor = await createGraphPredictor({ backend, config: fitted.config, params: fitted.params });
  const modelPath = join(runDir, MODEL_FILE);
  let final: Evaluation | null = null;
  let thresholds: StoredThresholds;
  try {
    const tb = show ? createProgress({ total: train.length, label: 'thresholds' }) : null;
    thresholds = await normalThresholds({ predictor, samples: train, imageQuantile: settings.thresholds.imageQuantile, pixelQuantile: settings.thresholds.pixelQuantile, onProgress: (d) => tb?.update(d) });
    tb?.done();
    await saveModel(modelPath, { preset: settings.preset, config: fitted.model, classes: dataset.classes, thresholds, params: fitted.params });
    if (!o.skipFinalEval && test.length > 0) {
      const bar = show ? createProgress({ total: test.length, label: 'eval (final)' }) : null;
      final = await evaluate({ predictor, samples: test, onProgress: (d) => bar?.update(d) });
      bar?.done();
      await writeFileAtomic(join(runDir, 'metrics.json'), `${JSON.stringify(withoutCurves(final.report), null, 2)}\n`);
      await writeLog({ type: 'eval', label: 'final', mean: withoutCurves(final.report).mean, classes: withoutCurves(final.report).classes });
    }
  } finally {
    await predictor.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  await writeLog({ type: 'end', thresholds, seconds: Number(seconds.toFixed(1)) });
  return { runDir, modelPath, final, thresholds, bankSize: fitted.bank.size, patchesSeen: fitted.bank.seen, seconds, classes: dataset.classes };
}
