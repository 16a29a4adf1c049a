export { createDetector, detectorOf, type Detector, type DetectorOptions, type DetectManyOptions } from './detector.js';
export {
  heatmapScale,
  labelOf,
  makeDetection,
  resolveThresholds,
  scoreFromMap,
  type Detection,
  type DetectionParts,
  type DetectionThresholds,
  type Label,
} from './detection.js';
export { encodedInput, isRawPixels, type DetectorInput, type EncodedInput, type RawPixels } from './input.js';
export { DetectorInputError } from './errors.js';
export { createGraphPredictor, openPredictor, type Prediction, type Predictor } from './predictor.js';
export {
  MODEL_FILE,
  fromExportThresholds,
  loadStoredModel,
  modelFileOf,
  saveModel,
  toExportThresholds,
  updateThresholds,
  type StoredModel,
  type StoredThresholds,
} from './model-store.js';
export { BACKENDS, chooseDevice, openBackend, type BackendName, type OpenBackendOptions } from './backend.js';
