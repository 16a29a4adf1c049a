/**
 * Prediction is the detector's: the engine only opens a model, runs the images through it and
 * closes it, so a caller that wants one pass over a list needs no lifetime handling.
 */
import { createDetector, type Detection, type DetectorInput, type DetectorOptions } from '@unias/detector';

export interface PredictOptions extends DetectorOptions {
  /** Images per model run (default 8). */
  readonly batchSize?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

/** Detections for `inputs` (file paths, Buffers or raw pixels) in input order, from a run directory, `.safetensors` or `.onnx`. */
export async function* predict(model: string, inputs: readonly DetectorInput[], options: PredictOptions = {}): AsyncGenerator<Detection> {
  const { batchSize, onProgress, ...open } = options;
  const detector = await createDetector(model, open);
  try {
    yield* detector.detectMany(inputs, { ...(batchSize !== undefined ? { batchSize } : {}), ...(onProgress ? { onProgress } : {}) });
  } finally {
    await detector.dispose();
  }
}
