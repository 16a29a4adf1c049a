/**
 * What a run reports while it works. The engine draws nothing and prints nothing: a progress bar,
 * a terminal log or a report is a set of callbacks given to `train`, so the same loop serves the
 * CLI, the server and a test. Every callback is optional; the async ones are awaited, so a callback
 * that writes a file has written it before the run goes on. The engine itself writes only what a
 * run needs to resume and to be used (run.json, checkpoints, metrics.json, the model): a log such
 * as the CLI's train.jsonl is a plugin.
 */
import type { Evaluation } from './evaluate.js';
import type { KnnSettings } from './knn-fit.js';
import type { TrainSettings } from './settings/train-settings.js';
import type { TrainRunResult } from './train-run.js';

/**
 * Work done in a stage ('train', 'eval (final)', 'thresholds', 'embed', ...): the stage's name is
 * its label for a person. The first report of a stage gives where it starts (a resumed run starts
 * past 0); `fields` are figures worth showing beside it (loss, images per second, epoch).
 */
export type ProgressCallback = (stage: string, done: number, total: number, fields?: Readonly<Record<string, string | number>>) => void;

/**
 * A stage's reporter: says where the stage starts (0) at once, so that a bar's rate counts the
 * first batch too, then reports each `done`.
 */
export function stageProgress(progress: ProgressCallback | undefined, stage: string, total: number): (done: number) => void {
  if (!progress) return () => undefined;
  progress(stage, 0, total);
  return (done) => progress(stage, done, total);
}

/**
 * The plan of a UniAS run, once everything is prepared and before its first step (a new run's
 * length is known by then, measured from its speed under a time budget). A resumed run reports it
 * too, with the step it continues from.
 */
export interface UniasStartEvent {
  readonly method: 'unias';
  /** The run directory (absolute). */
  readonly runDir: string;
  /** The run's settings as `run.json` holds them (a budgeted run's length included); the preset is `settings.preset`. */
  readonly settings: TrainSettings;
  /** Backbone id, e.g. 'mobilenet_v2'. */
  readonly backbone: string;
  /** Where the backbone's weights came from, in words. */
  readonly backboneWeights: string;
  /** The backend's name, e.g. 'onnxruntime-node (cpu)'. */
  readonly backend: string;
  readonly classes: readonly string[];
  /** Normal training images and test images. */
  readonly trainImages: number;
  readonly testImages: number;
  readonly batchesPerEpoch: number;
  readonly totalSteps: number;
  /** StepLR period in optimizer steps (fixed by the run's first invocation). */
  readonly lrStepSteps: number;
  /** Whether the frozen backbone's features come from the on-disk cache. */
  readonly featureCache: boolean;
  /** The backbone's share of a training step's FLOPs, 0..1. */
  readonly backboneFlopShare: number;
  /** A resumed run: the step it continues from (0 when it had no checkpoint yet); null for a new run. */
  readonly resumedFrom: number | null;
}

/** The plan of a knn fit (one pass, never resumed). */
export interface KnnStartEvent {
  readonly method: 'knn';
  readonly runDir: string;
  readonly settings: TrainSettings;
  readonly backbone: string;
  readonly classes: readonly string[];
  readonly trainImages: number;
  readonly testImages: number;
  /** The memory bank's settings (`settings.knn`). */
  readonly knn: KnnSettings;
}

/** Once per invocation, before any step, evaluation or fit; `method` tells the two apart. */
export type StartEvent = UniasStartEvent | KnnStartEvent;

/** A knn fit's memory bank, fitted (before its thresholds and evaluation). */
export interface FitEvent {
  /** Patches kept in the bank, of those embedded. */
  readonly bankSize: number;
  readonly patchesSeen: number;
  /** Seconds spent embedding the training images and subsampling their patches. */
  readonly embedSeconds: number;
  readonly subsampleSeconds: number;
}

export interface StepEvent {
  readonly step: number;
  readonly totalSteps: number;
  /** 1-based epoch the step's batch belongs to. */
  readonly epoch: number;
  readonly loss: number;
  /** The loss smoothed over about the last ten steps (what is worth showing). */
  readonly smoothedLoss: number;
  readonly lr: number;
  readonly gradNorm?: number;
  /** Training images seen by the run so far, resumed parts included. */
  readonly images: number;
  /** Images per second of this invocation's loop, evaluations left out. */
  readonly imagesPerSecond: number;
}

export interface EvaluationEvent {
  /** 'untrained' (before the first step), 'epoch' (periodic) or 'final'. */
  readonly kind: 'untrained' | 'epoch' | 'final';
  readonly step: number;
  readonly epoch: number;
  readonly evaluation: Evaluation;
}

export interface CheckpointEvent {
  readonly step: number;
  /** The checkpoint folder (absolute). */
  readonly dir: string;
}

export interface TrainCallbacks {
  readonly onProgress?: ProgressCallback;
  /**
   * Once, with the run's plan, before its first step or evaluation (after the run directory and
   * `run.json` exist). A plugin that keeps a file in the run directory cuts it back here on resume.
   */
  readonly onStart?: (e: StartEvent) => void | Promise<void>;
  /** After every optimizer step (a test may throw here to simulate a crash). */
  readonly onStep?: (e: StepEvent) => void | Promise<void>;
  readonly onEvaluation?: (e: EvaluationEvent) => void | Promise<void>;
  readonly onCheckpoint?: (e: CheckpointEvent) => void | Promise<void>;
  /** A knn fit: once, when its memory bank is fitted. */
  readonly onFit?: (e: FitEvent) => void | Promise<void>;
  /** Once, when the run returns: completed, or stopped by the signal or stopAfter (with a checkpoint). */
  readonly onEnd?: (result: TrainRunResult) => void | Promise<void>;
  /** A line for a person: the plan, the device chosen, a resume, a checkpoint passed over. */
  readonly onLog?: (line: string) => void;
}

/** Several plugins as one: each callback calls theirs in the order given. */
export function combineCallbacks(...plugins: readonly (TrainCallbacks | undefined)[]): TrainCallbacks {
  const list = plugins.filter((p): p is TrainCallbacks => p !== undefined);
  const each =
    <K extends 'onStart' | 'onStep' | 'onEvaluation' | 'onCheckpoint' | 'onFit' | 'onEnd'>(key: K) =>
    async (e: Parameters<NonNullable<TrainCallbacks[K]>>[0]): Promise<void> => {
      for (const p of list) await (p[key] as ((e: unknown) => void | Promise<void>) | undefined)?.(e);
    };
  return {
    onProgress: (stage, done, total, fields) => {
      for (const p of list) p.onProgress?.(stage, done, total, fields);
    },
    onStart: each('onStart'),
    onStep: each('onStep'),
    onEvaluation: each('onEvaluation'),
    onCheckpoint: each('onCheckpoint'),
    onFit: each('onFit'),
    onEnd: each('onEnd'),
    onLog: (line) => {
      for (const p of list) p.onLog?.(line);
    },
  };
}
