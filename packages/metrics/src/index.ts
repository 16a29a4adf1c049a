export { labelComponents, type Components, type Connectivity } from './connected-components.js';
export type { CurvePoints } from './curve-downsampler.js';
export { MetricsInputError } from './errors.js';
export { floatToKey, keyToFloat } from './float-keys.js';
export { imageScore, type ImageScoreRule } from './image-score.js';
export { binaryMetrics, rocAuc, averagePrecision, f1Max, type BinaryMetrics, type BinaryMetricsOptions } from './binary-metrics.js';
export { imageDscIou, type DscIou } from './dsc-iou.js';
export { createClassMetricsAccumulator, type ClassMetricsAccumulator, type ImageLabel, type ImageMap } from './class-accumulator.js';
export { createMetricsAccumulator, meanOverClasses, assembleReport, type MetricsAccumulator } from './metrics-accumulator.js';
export { evaluateMaps, evaluateMapsFile, type EvaluateMapsOptions } from './maps-file.js';
export {
  METRIC_KEYS,
  type MetricKey,
  type MetricValues,
  type ClassThresholds,
  type ClassCounts,
  type ClassCurves,
  type ClassReport,
  type MetricsOptions,
  type MetricsReport,
} from './report-types.js';
