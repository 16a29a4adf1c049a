export {
  toOnnxModel,
  writeOnnxFile,
  lowerGraph,
  encodeModel,
  OPSET,
  BATCH_DIM,
  PRODUCER_NAME,
  type OnnxExportOptions,
  type LoweredModel,
  type IoSpec,
} from './to-onnx.js';
export { LOWERINGS, type LoweringTable } from './lowering.js';
export type { Lowering, LoweringContext } from './lowering-context.js';
export { blockedConvEligible, blockedWeightOrder, MAX_BLOCKED_REDUCTION, NCHWC_DOMAIN } from './blocked-conv.js';
export { nchwcBlockProbeModel } from './nchwc-probe.js';
