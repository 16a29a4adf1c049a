/**
 * The UniAS engine: training, evaluation, prediction and export without a command line. The CLI
 * and the server are adapters over it: they turn arguments or requests into settings and callbacks,
 * and the engine's results into text, files or responses.
 */
export { train, resume, type TrainOptions, type ResumeOptions } from './train.js';
export {
  runTraining,
  backboneShare,
  fmt,
  AUTO_CACHE_SHARE,
  CHECKPOINTS,
  LATEST,
  RUN_FORMAT,
  RUN_JSON,
  type RunRecord,
  type TrainRunOptions,
  type TrainRunResult,
} from './train-run.js';
export {
  combineCallbacks,
  type CheckpointEvent,
  type EvaluationEvent,
  type FitEvent,
  type KnnStartEvent,
  type ProgressCallback,
  type StartEvent,
  type StepEvent,
  type TrainCallbacks,
  type UniasStartEvent,
} from './callbacks.js';
export { EngineInputError } from './errors.js';

// settings: the configuration file's schema, defaults and resolution
export {
  AUGMENTATIONS,
  BACKENDS,
  DATA_FORMATS,
  METHOD_NAMES,
  SCHEDULES,
  TRAIN_DEFAULTS,
  TRAIN_SCHEMA,
  UNIAS_TRAINING_KEYS,
  defaultMethod,
  parseSetFlag,
  readTrainConfigFile,
  resolveTrainSettings,
  setPath,
  type AugmentationName,
  type BackendName,
  type DataFormat,
  type MethodName,
  type RawConfig,
  type ScheduleName,
  type TrainSettings,
} from './settings/train-settings.js';
export { ConfigFileError, type Schema } from './settings/schema.js';
export { closest, editDistance, suggestion } from './settings/suggest.js';

// evaluation, prediction, export
export { evaluate, withoutCurves, type Evaluation, type EvaluateOptions, type ImageResult } from './evaluate.js';
export { normalThresholds, quantile, quantileSorted } from './thresholds.js';
export {
  baselineForModel,
  isBaseline,
  knnBaseline,
  type BaselineOptions,
  type BaselineReport,
  type BaselineResult,
  type ModelBaselineOptions,
} from './baseline.js';
export { predict, type PredictOptions } from './predict.js';
export { exportModel, DEFAULT_CALIBRATION_IMAGES, type ExportRunOptions } from './export-model.js';
export { calibrationSamples, loadCalibrationSet, runDataRoots, type CalibrationSet } from './calibration.js';

// the pieces a study or a benchmark drives directly
export { loadData, augmentationPolicy, detectFormat, type LoadedData } from './data.js';
export { KNN_DEFAULTS, fitKnn, knnModelConfig, type FitKnnOptions, type FittedKnn, type KnnSettings } from './knn-fit.js';
export { formatBudget, formatDuration, median, parseDuration, planBudget, STEP_TIME_MARGIN, type BudgetInput, type BudgetPlan } from './budget.js';
export { loadModelWeights, hashWeights, type ModelWeights, type WeightSources } from './weights.js';

// pretrained backbone weights: the known files, the cache, the verified download
export { KNOWN_WEIGHTS, findKnownWeights, type KnownWeights } from './weights-registry.js';
export { convertedFile, downloadedFile, isFile, pretrainedWeightsFile, weightsDir } from './weights-cache.js';
export { downloadVerified, type DownloadOptions, type DownloadResult } from './weights-download.js';
export { userCacheDir } from './cache-dir.js';
