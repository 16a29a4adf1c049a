export { resolveConfig, ConfigError, type ModelConfig, type ResolvedConfig } from './config.js';
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
export { countFlops, type FlopCount } from './flops.js';
export { buildFullGraph, extraStateDictKeys, stateDictListing, type StateDictListing } from './state-dict.js';
export { readWeightFiles, bindWeights, type BindOptions } from './weights.js';
