/**
 * The `unias` command line (the bin is `dist/bin.js`). The functions behind the commands are
 * exported for scripts and tests: `main(argv)` runs a command line and returns the exit code.
 */
export { main, COMMANDS, helpText } from './main.js';
export { UserError, UsageError } from './errors.js';
export type { Command, CommandEntry } from './command.js';
// the engine's (moved to @unias/engine); re-exported so the CLI's library surface is unchanged
export {
  TRAIN_DEFAULTS,
  TRAIN_SCHEMA,
  readTrainConfigFile,
  resolveTrainSettings,
  runTraining,
  evaluate,
  normalThresholds,
  quantile,
  type TrainSettings,
  type RawConfig,
  type TrainRunOptions,
  type TrainRunResult,
  type RunRecord,
  type Evaluation,
  type ImageResult,
  type EvaluateOptions,
} from '@unias/engine';
// moved to @unias/detector; re-exported so the CLI's library surface is unchanged
export { openPredictor, createGraphPredictor, type Predictor, type Prediction } from '@unias/detector';
export { loadStoredModel, saveModel, type StoredModel, type StoredThresholds } from '@unias/detector';
export { renderReport, type ReportInput } from './report/html-report.js';
export { metricsTable } from './report/table.js';
// the run's JSONL log (train.jsonl) as a plugin of the engine's callbacks
export { LOG_FILE, runLog } from './run-log.js';
