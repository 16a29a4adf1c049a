/**
 * The length and pace of a run: steps from epochs, the learning-rate schedule, the backbone's share
 * of a step (whether caching its features pays), and the measured seconds per step that size a run
 * to a time budget.
 */
import type { BatchLoader } from '@unias/datasets';
import type { TensorData } from '@unias/graph';
import { buildInferenceGraph, countModelFlops, type ResolvedConfig } from '@unias/model';
import { chainedLr, constantLr, cosineAnnealingLr, linearLr, stepLr, type Schedule, type TrainingStep } from '@unias/training';
import { median } from './budget.js';
import type { FeatureSource } from './features.js';
import { TRAIN_DEFAULTS, type TrainSettings } from './settings/train-settings.js';

/** The length of the run in steps. */
export function totalStepsOf(settings: TrainSettings, batchesPerEpoch: number): number {
  if (settings.train.steps !== null) return settings.train.steps;
  return (settings.train.epochs ?? 1) * batchesPerEpoch;
}

/** The StepLR period in optimizer steps: the given epochs, else 40% of the run. */
export function stepPeriodOf(s: TrainSettings, batchesPerEpoch: number): number {
  return s.train.lrStepEpochs !== null ? s.train.lrStepEpochs * batchesPerEpoch : Math.max(1, Math.round(0.4 * totalStepsOf(s, batchesPerEpoch)));
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

/** Warm-up steps: as given, else `TRAIN_DEFAULTS.warmupFraction` of the run. */
export function warmupStepsOf(s: TrainSettings, totalSteps: number): number {
  return s.train.warmupSteps ?? Math.round(TRAIN_DEFAULTS.warmupFraction * totalSteps);
}

export function scheduleOf(s: TrainSettings, lrStepSteps: number, totalSteps: number): Schedule {
  const t = s.train;
  const warmupSteps = warmupStepsOf(s, totalSteps);
  let main: Schedule;
  if (t.schedule === 'constant') main = constantLr(t.lr);
  else if (t.schedule === 'cosine') main = cosineAnnealingLr({ lr: t.lr, tMax: Math.max(1, totalSteps) });
  else main = stepLr({ lr: t.lr, stepSize: lrStepSteps, gamma: t.lrGamma });
  if (warmupSteps <= 0) return main;
  return chainedLr(t.lr, [
    { schedule: linearLr({ lr: t.lr, startFactor: 0.01, endFactor: 1, totalIters: warmupSteps }), baseLr: t.lr },
    { schedule: main, baseLr: t.lr },
  ]);
}

/** Inference per image as a fraction of a training step per image (forward only, no backward). */
export const INFER_FRACTION = 0.45;
const CALIBRATION_STEPS = 10;
/**
 * Calibration steps left out: the first runs of a session allocate and the loader's prefetch is
 * still filling (the 8-class unified run: 2.7 s, 2.0 s, then 0.58-0.80 s; with one step left out
 * of six the median said 0.77 s where the run then averaged 0.68 s, and a 30-minute budget trained
 * for 26 minutes).
 */
const CALIBRATION_WARMUP = 2;

/** The median of the calibration steps after the warm-up ones. */
export function steadyStepSeconds(times: readonly number[]): number {
  if (times.length <= CALIBRATION_WARMUP) throw new Error(`steadyStepSeconds: ${times.length} steps, needs more than ${CALIBRATION_WARMUP}`);
  return median(times.slice(CALIBRATION_WARMUP));
}

/**
 * Seconds per step of the training loop (batch loading included), from CALIBRATION_STEPS real
 * steps (steadyStepSeconds); the trainer is put back to its initial state afterwards, so the run
 * is exactly the one it would have been without measuring.
 */
export async function measureStepSeconds(trainer: TrainingStep, loader: BatchLoader, features: FeatureSource | null): Promise<number> {
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
  return steadyStepSeconds(times);
}
