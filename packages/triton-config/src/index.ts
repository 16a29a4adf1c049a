export { loadModelConfigSchema, MODEL_CONFIG_PROTO } from './schema.js';
export { parseTextFormat, TextFormatError, type TextObject } from './text-format.js';
export {
  parseModelConfig,
  readModelConfig,
  encodeModelConfig,
  type TritonModelConfig,
  type TritonTensorConfig,
  type TritonVersionPolicy,
  type TritonInstanceGroup,
  type TritonDynamicBatching,
  type TritonDataType,
} from './model-config.js';
