/**
 * The engine's entry points for a run: `train` starts one from settings, `resume` continues one
 * from its directory. Both dispatch on the settings' method (the UniAS head, or the knn detector
 * fitted in one pass) the way `unias train` does.
 */
import type { DeviceRequest } from '@unias/backend-onnx';
import type { TrainCallbacks } from './callbacks.js';
import type { TrainSettings } from './settings/train-settings.js';
import { runTraining, type TrainRunResult } from './train-run.js';

export interface TrainOptions {
  /** Stop after the current step, with a checkpoint: the run can be resumed. */
  readonly signal?: AbortSignal;
  readonly callbacks?: TrainCallbacks;
  /** Stop (with a checkpoint) after this many steps of this invocation. */
  readonly stopAfter?: number;
  /** Evaluate the untrained model first (a "before" number). */
  readonly evalBefore?: boolean;
  /** Skip the final evaluation (thresholds and model are still written). */
  readonly skipFinalEval?: boolean;
}

export interface ResumeOptions extends Omit<TrainOptions, 'evalBefore'> {
  /** Another device than the run's (results differ by float rounding only). */
  readonly device?: DeviceRequest;
  /** A new length: extends (or shortens) the run. */
  readonly extend?: { readonly epochs?: number; readonly steps?: number };
}

/** Trains a model in `settings.output.dir` (which must not already hold a run). */
export function train(settings: TrainSettings, options: TrainOptions = {}): Promise<TrainRunResult> {
  return runTraining({ settings, ...options });
}

/** Continues the run in `runDir` from its newest intact checkpoint, with the settings it was started with. */
export function resume(runDir: string, options: ResumeOptions = {}): Promise<TrainRunResult> {
  return runTraining({ resumeDir: runDir, ...options });
}
