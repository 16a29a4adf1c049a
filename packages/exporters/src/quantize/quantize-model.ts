/**
 * The int8 pipeline from the float one: fold weights into plain initializers, calibrate activation
 * ranges on the float model, then rewrite into QDQ form. Inputs and outputs stay float32, so a client
 * of the float export runs the int8 one unchanged.
 */
import { calibrateRanges, type CalibrationImages } from './calibrate.js';
import { foldBatchNorms, foldSlicedInitializers, foldTransposedInitializers } from './fold.js';
import { onnx, type ModelProto } from './onnx-tensors.js';
import { insertQdq, tensorsToCalibrate, type KeepFloat, type QdqSummary } from './qdq.js';

/**
 * Graph scopes left float32 by default: the anomaly-map stage (`within('anomaly_map')` in
 * @unias/model's build: the distance between features and their reconstruction, resized to the
 * input). Quantised, the map itself takes 256 levels, and the
 * ties cost pixel AP (demo model: -1.4 points with it quantised, -0.2 without) for ~no time saved.
 */
export const KEEP_FLOAT_DEFAULT: KeepFloat = ['anomaly_map'];

export interface Int8Summary extends QdqSummary {
  readonly foldedSlices: number;
  readonly foldedTransposes: number;
  readonly foldedBatchNorms: number;
}

/** Quantises `model` (a lowered UniAS pipeline, changed in place) to int8 QDQ form. */
export async function quantizeInt8(
  model: ModelProto,
  inputSize: readonly [number, number],
  calibration: CalibrationImages,
  keepFloat: KeepFloat = KEEP_FLOAT_DEFAULT,
): Promise<Int8Summary> {
  const g = model.graph!;
  // slices first: a q/k/v slice of a weight is then transposed, and both become one initializer
  const foldedSlices = foldSlicedInitializers(g);
  const foldedTransposes = foldTransposedInitializers(g);
  const foldedBatchNorms = foldBatchNorms(g);
  const tensors = tensorsToCalibrate(g, keepFloat);
  const ranges = await calibrateRanges(model, tensors, inputSize, calibration);
  return { ...insertQdq(g, ranges, keepFloat), foldedSlices, foldedTransposes, foldedBatchNorms };
}

/** `quantizeInt8` on encoded model bytes (a float UniAS export), returning the int8 model's bytes. */
export async function quantizeOnnxBytes(
  bytes: Uint8Array,
  inputSize: readonly [number, number],
  calibration: CalibrationImages,
  keepFloat: KeepFloat = KEEP_FLOAT_DEFAULT,
): Promise<{ bytes: Uint8Array; summary: Int8Summary }> {
  const model = onnx.ModelProto.decode(bytes);
  const summary = await quantizeInt8(model, inputSize, calibration, keepFloat);
  return { bytes: onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish(), summary };
}
