/**
 * The run's JSONL log, `RUN_DIR/train.jsonl`, written from the engine's callbacks: a plugin of the
 * CLI (`unias train`, `unias demo` and the accuracy bench attach it), so that a library user's
 * run writes no log it did not ask for.
 *
 * One JSON object per line, each with its `time` and `type`:
 * - `start` (a new run, or a resumed one that had no checkpoint yet): the plan (preset, backbone,
 *   its weights, backend, classes, image counts, batches per epoch, steps, StepLR period, feature
 *   cache, the backbone's FLOP share); a knn fit's: its backbone, classes, image counts and bank
 *   settings;
 * - `step` every `output.logEvery` steps and at the last: loss, lr, grad_norm, images, images/s;
 * - `eval`: the mean and per-class metrics (`label` 'untrained' or 'final' where it is not periodic);
 * - `checkpoint`; `fit` (knn: the bank); `stop` (a stopped run); `end`: thresholds, images/s, seconds.
 *
 * On resume the log is cut back to the checkpoint's step first (the lines after it are logged
 * again). Every line is appended before the run goes on (the callbacks are awaited), so a killed
 * run loses no line of a step it finished.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '@unias/graph';
import { CHECKPOINTS, withoutCurves, type Evaluation, type EvaluationEvent, type TrainCallbacks } from '@unias/engine';

export const LOG_FILE = 'train.jsonl';

/** On resume, drop log lines of steps after the checkpoint (they will be logged again), and lines torn by a kill. */
export async function truncateLog(path: string, step: number): Promise<void> {
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

/** An evaluation as the log holds it: mean and per-class metrics (no curves), and its seconds. */
export function summaryOf(e: Evaluation): Record<string, unknown> {
  const r = withoutCurves(e.report);
  return { mean: r.mean, classes: r.classes, seconds: Number(e.seconds.toFixed(2)) };
}

const EVAL_LABEL: Record<EvaluationEvent['kind'], string | null> = { untrained: 'untrained', epoch: null, final: 'final' };

/** The plugin: give it to `train`/`resume`/`runTraining` (with `combineCallbacks` beside others). It learns the run directory from `onStart`. */
export function runLog(): TrainCallbacks {
  let path: string | null = null;
  let method: 'unias' | 'knn' = 'unias';
  let logEvery = 1;
  const write = async (entry: Record<string, unknown>): Promise<void> => {
    if (path === null) return;
    await appendFile(path, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  };
  return {
    async onStart(e) {
      path = join(e.runDir, LOG_FILE);
      method = e.method;
      if (e.method === 'knn') {
        await write({
          type: 'start',
          method: 'knn',
          backbone: e.backbone,
          classes: e.classes,
          train_images: e.trainImages,
          test_images: e.testImages,
          knn: e.knn,
        });
        return;
      }
      logEvery = e.settings.output.logEvery;
      if (e.resumedFrom !== null) await truncateLog(path, e.resumedFrom);
      if ((e.resumedFrom ?? 0) > 0) return; // its start line is kept
      await write({
        type: 'start',
        step: 0,
        preset: e.settings.preset,
        backbone: e.backbone,
        backbone_weights: e.backboneWeights,
        backend: e.backend,
        classes: e.classes,
        train_images: e.trainImages,
        test_images: e.testImages,
        batches_per_epoch: e.batchesPerEpoch,
        total_steps: e.totalSteps,
        lr_step_steps: e.lrStepSteps,
        feature_cache: e.featureCache,
        backbone_flop_share: Number(e.backboneFlopShare.toFixed(3)),
      });
    },
    async onStep(e) {
      if (e.step % logEvery !== 0 && e.step !== e.totalSteps) return;
      await write({
        type: 'step',
        step: e.step,
        // 0-based in the log (the event's is 1-based)
        epoch: e.epoch - 1,
        loss: e.loss,
        lr: e.lr,
        ...(e.gradNorm !== undefined ? { grad_norm: e.gradNorm } : {}),
        images: e.images,
        images_per_s: Number(e.imagesPerSecond.toFixed(3)),
      });
    },
    async onEvaluation(e) {
      if (method === 'knn') {
        const r = withoutCurves(e.evaluation.report);
        await write({ type: 'eval', label: 'final', mean: r.mean, classes: r.classes });
        return;
      }
      const label = EVAL_LABEL[e.kind];
      await write({ type: 'eval', step: e.step, epoch: e.epoch, ...(label !== null ? { label } : {}), ...summaryOf(e.evaluation) });
    },
    async onCheckpoint(e) {
      await write({ type: 'checkpoint', step: e.step, dir: join(CHECKPOINTS, basename(e.dir)) });
    },
    async onFit(e) {
      await write({ type: 'fit', bank_size: e.bankSize, patches_seen: e.patchesSeen, embed_s: e.embedSeconds, subsample_s: e.subsampleSeconds });
    },
    async onEnd(r) {
      if (!r.completed) await write({ type: 'stop', step: r.step });
      else if (method === 'knn') await write({ type: 'end', thresholds: r.thresholds, seconds: Number(r.seconds.toFixed(1)) });
      else
        await write({
          type: 'end',
          step: r.step,
          thresholds: r.thresholds,
          images_per_s: Number(r.imagesPerSecond.toFixed(3)),
          seconds: Number(r.seconds.toFixed(1)),
        });
    },
  };
}
