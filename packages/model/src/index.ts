export {
  resolveConfig,
  ConfigError,
  gaussianSide,
  METHODS,
  INPUT_RANGES,
  type ModelConfig,
  type ResolvedConfig,
  type Method,
  type InputRange,
  type KnnConfig,
  type ResolvedKnn,
} from './config.js';
// the loss settings' values, for schemas that check a ModelConfig before resolveConfig does
export { MSE_FORMS, type CosineSign, type MseForm } from '@unias/losses';
export { KNN_BANK, KNN_BANK_SQNORM, knnEmbedding, knnAnomalyMap, buildKnnEmbeddingGraph, type KnnAnomalyMap } from './knn.js';
export { PRESETS, PRESET_NAMES, presetConfig, isPresetName, type PresetName } from './presets.js';
export { gaussianKernel1d, gaussianBlur, preprocessTap, featureJitter, type JitterOptions, type PreprocessedTap } from './preprocess.js';
export { anomalyMap, cosineDistanceMap, type AnomalyMap, type AnomalyMapOptions } from './anomaly-map.js';
export {
  buildFeatures,
  buildFeatureGraph,
  buildHead,
  buildHeadGraph,
  buildInferenceGraph,
  buildTrainingGraph,
  buildTrainingLoss,
  headOptions,
  tapSizes,
  type AnyConfig,
  type Features,
  type HeadGraphOptions,
  type ImageInput,
  type InferenceGraphOptions,
  type TrainingLoss,
  type TrainingLossOptions,
} from './build.js';
export { countModelFlops, type FlopCount } from './flops.js';
export { buildFullGraph, extraStateDictKeys, stateDictListing, type StateDictListing } from './state-dict.js';
export { readWeightFiles, bindWeights, type BindOptions } from './weights.js';
