/**
 * The `unias` command line (the bin is `dist/bin.js`). The functions behind the commands are
 * exported for scripts and tests: `main(argv)` runs a command line and returns the exit code.
 */
export { main, COMMANDS, helpText } from './main.js';
export { UserError, UsageError } from './errors.js';
export type { Command, CommandEntry } from './command.js';
export {
  TRAIN_DEFAULTS,
  TRAIN_SCHEMA,
  readTrainConfigFile,
  resolveTrainSettings,
  type TrainSettings,
  type RawConfig,
} from './config/train-config.js';
export { runTraining, type TrainRunOptions, type TrainRunResult, type RunRecord } from './engine/train-run.js';
export { evaluate, type Evaluation, type ImageResult, type EvaluateOptions } from './engine/evaluate.js';
// moved to @unias/detector; re-exported so the CLI's library surface is unchanged
export { openPredictor, createGraphPredictor, type Predictor, type Prediction } from '@unias/detector';
export { loadStoredModel, saveModel, type StoredModel, type StoredThresholds } from '@unias/detector';
export { normalThresholds, quantile } from './engine/thresholds.js';
export { renderReport, type ReportInput } from './report/html-report.js';
export { metricsTable } from './report/table.js';
