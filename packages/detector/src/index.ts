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
