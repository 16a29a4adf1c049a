/**
 * What a run reports while it works. The engine draws nothing and prints nothing: a progress bar,
 * a terminal log or a report is a set of callbacks given to `train`, so the same loop serves the
 * CLI, the server and a test. Every callback is optional; the async ones are awaited, so a callback
 * that writes a file has written it before the run goes on.
 */
import type { Evaluation } from './evaluate.js';
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
  /** After every optimizer step (a test may throw here to simulate a crash). */
  readonly onStep?: (e: StepEvent) => void | Promise<void>;
  readonly onEvaluation?: (e: EvaluationEvent) => void | Promise<void>;
  readonly onCheckpoint?: (e: CheckpointEvent) => void | Promise<void>;
  /** Once, when the run returns: completed, or stopped by the signal or stopAfter (with a checkpoint). */
  readonly onEnd?: (result: TrainRunResult) => void | Promise<void>;
  /** A line for a person: the plan, the device chosen, a resume, a checkpoint passed over. */
  readonly onLog?: (line: string) => void;
}

/** Several plugins as one: each callback calls theirs in the order given. */
export function combineCallbacks(...plugins: readonly (TrainCallbacks | undefined)[]): TrainCallbacks {
  const list = plugins.filter((p): p is TrainCallbacks => p !== undefined);
  const each =
    <K extends 'onStep' | 'onEvaluation' | 'onCheckpoint' | 'onEnd'>(key: K) =>
    async (e: Parameters<NonNullable<TrainCallbacks[K]>>[0]): Promise<void> => {
      for (const p of list) await (p[key] as ((e: unknown) => void | Promise<void>) | undefined)?.(e);
    };
  return {
    onProgress: (stage, done, total, fields) => {
      for (const p of list) p.onProgress?.(stage, done, total, fields);
    },
    onStep: each('onStep'),
    onEvaluation: each('onEvaluation'),
    onCheckpoint: each('onCheckpoint'),
    onEnd: each('onEnd'),
    onLog: (line) => {
      for (const p of list) p.onLog?.(line);
    },
  };
}
