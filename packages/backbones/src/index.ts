export {
  IMAGENET_NORMALIZATION,
  resolveTaps,
  tapSpec,
  pickTaps,
  type Backbone,
  type BackboneBuildOptions,
  type DefaultWeights,
  type DefaultWeightsOptions,
  type InputNormalization,
  type TapSpec,
} from './backbone.js';
export { BUILTIN_BACKBONES, createBackboneRegistry, getBackbone, listBackbones, registerBackbone, type BackboneRegistry } from './registry.js';
export {
  EFFICIENTNETS,
  EFFICIENTNET_VARIANTS,
  createEfficientNet,
  efficientNetPlan,
  roundFilters,
  roundRepeats,
  type EfficientNetPlan,
  type EfficientNetStage,
  type EfficientNetVariant,
} from './efficientnet.js';
export { RESNETS, RESNET_VARIANTS, createResNet, type ResNetVariant } from './resnet.js';
export { MOBILENET_V2, MOBILENET_V2_BLOCKS } from './mobilenet-v2.js';
export {
  MOBILENET_V2_NSFWJS_WEIGHTS,
  MOBILENET_V2_WEIGHTS_PACKAGE,
  NSFWJS_SOURCE,
  bundledMobileNetV2Dir,
  convertNsfwjsMobileNetV2,
  defaultCacheDir,
  frozenKerasLayers,
  importMobileNetV2WeightsPackage,
  loadMobileNetV2ImageNet,
  mobileNetV2CacheFile,
  mobileNetV2DefaultWeights,
  parseNsfwjsFiles,
  readNsfwjsFiles,
  type MobileNetV2WeightsPackage,
  type MobileNetV2WeightsPackageLoader,
  type NsfwjsFiles,
  type NsfwjsModel,
} from './pretrained/nsfwjs-mobilenet-v2.js';
export { mapName, prefixWeights, type ImportOptions, type NameMap, type WeightMap } from './weights/names.js';
export {
  importSafetensors,
  isBatchCounterName,
  readSafetensorsWeights,
  weightsFromSafetensors,
  type BatchCounter,
  type SafetensorsImportOptions,
} from './weights/safetensors.js';
export { WEIGHT_FILE_KINDS, readWeightFile, weightFileKind, type ReadWeightFileOptions, type WeightFile, type WeightFileKind } from './weights/file.js';
export { importOnnx, onnxTensorToFloat32, readOnnxModel, weightsFromOnnxModel } from './weights/onnx.js';
export { importTorchCheckpoint, type TorchImportOptions } from './weights/torch-checkpoint.js';
export {
  checkTfjsModelJson,
  decodeTfjsWeights,
  importTfjsLayers,
  readTfjsLayersFiles,
  readTfjsShards,
  weightsFromTfjsLayers,
  type TfjsModelJson,
  type TfjsQuantization,
  type TfjsWeightSpec,
  type TfjsWeightsGroup,
} from './weights/tfjs-layers.js';
export { kerasToTorchName, kerasToTorchTensor, splitKerasName } from './weights/keras-layout.js';
export { buildBackboneGraph, checkBackboneWeights, type BackboneGraph, type BackboneGraphOptions } from './weights/check.js';
export { importWeights, loadBackboneWeights, type LoadBackboneWeightsOptions } from './weights/load.js';
