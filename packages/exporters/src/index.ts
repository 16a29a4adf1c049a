export { ExportError } from './errors.js';
export { checkInfo, mergeInfo, type ExportableModel, type ModelInfo, type Thresholds } from './model-info.js';
export { checkTensors, describeModel, modelGraphs, type ModelGraphs, type TensorCheckOptions } from './model-check.js';
export type { ExportProgress, ProgressCallback } from './progress.js';
export {
  CUSTOM_PRESET,
  EXPORT_FORMAT_VERSION,
  METADATA_KEYS,
  exportMetadata,
  isUniasModelMetadata,
  metadataInputSize,
  metadataNumber,
  metadataPrecision,
  metadataThresholds,
  parseExportMetadata,
  parseUniasModelMetadata,
  uniasModelMetadata,
  type ExportedMetadata,
  type UniasModelMetadata,
} from './contract.js';
export { readExportMetadata, readOnnxMetadataProps } from './onnx-metadata.js';
export { buildOnnxModel, buildQuantizedOnnxModel, writeOnnxExport, type OnnxFileOptions, type OnnxModel, type OnnxModelOptions } from './onnx-export.js';
export { PRECISIONS, checkPrecision, isPrecision, type CalibrationInfo, type Precision } from './quantize/precision.js';
export {
  CALIBRATION_METHODS,
  CALIBRATION_PERCENTILE,
  loadCalibrationRuntime,
  type CalibrationImages,
  type CalibrationMethod,
  type CalibrationRuntime,
  type CalibrationRuntimeImport,
  type CalibrationSession,
  type TensorRange,
} from './quantize/calibrate.js';
export { activationParams, weightScale, type QuantParams, type QdqSummary } from './quantize/qdq.js';
export { KEEP_FLOAT_DEFAULT, quantizeInt8, quantizeOnnxBytes, type Int8Summary } from './quantize/quantize-model.js';
export type { KeepFloat } from './quantize/qdq.js';
export { storeWeightsAsFloat16, type Float16Summary } from './quantize/float16.js';
export {
  tritonConfigText,
  writeTritonExport,
  writeTritonFiles,
  type InstanceKind,
  type TritonConfigOptions,
  type TritonExport,
  type TritonExportOptions,
  type TritonRepositoryFiles,
} from './triton.js';
export {
  fieldValue,
  fieldValues,
  formatTextMessage,
  ident,
  message,
  parseTextMessage,
  quote,
  TextFormatError,
  type TextIdent,
  type TextMessage,
  type TextValue,
} from './pbtxt.js';
export {
  SAFETENSORS_LAYOUTS,
  UNIAS_METADATA_KEYS,
  UNIAS_MODEL_FORMAT,
  WEIGHT_DTYPES,
  officialContent,
  uniasContent,
  writeSafetensorsExport,
  type SafetensorsContent,
  type SafetensorsExport,
  type SafetensorsExportOptions,
  type SafetensorsLayout,
  type WeightDType,
} from './safetensors-export.js';
export { TRAINING_CHECKPOINT_FORMAT, loadModelFiles, type FileLayout, type LoadModelOptions, type LoadedFile, type LoadedModel } from './load.js';
export { EXPORT_FORMATS, exportModel, isExportFormat, type ExportFormat, type ExportModelOptions, type ExportResult } from './export-model.js';
