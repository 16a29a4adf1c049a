/**
 * The one-call detector: `createDetector(path, options)` opens any model the project writes (a run
 * directory, a unias-layout `.safetensors`, an exported `.onnx`) on a device, and `detect(input)`
 * runs one image through the image contract and the model into a Detection at the image's size.
 */
import { decodeImageBytes, planarToRgb, type DecodedImage } from '@unias/image';
import type { DeviceRequest } from '@unias/backend-onnx';
import type { BackendName } from './backend.js';
import { makeDetection, resolveThresholds, type Detection, type DetectionThresholds } from './detection.js';
import { encodedInput, type DetectorInput, type EncodedInput } from './input.js';
import { openPredictor, type Predictor } from './predictor.js';

export interface DetectorOptions {
  /** auto (default: the best that works here, logged with why) | cpu | webgpu | cuda. */
  readonly device?: DeviceRequest;
  /** Pixel threshold for the mask, instead of the model's. */
  readonly threshold?: number;
  /** Image-score threshold for the label, instead of the model's. */
  readonly imageThreshold?: number;
  /** `thresholds.source` when either threshold above is given (default "given to the detector"). */
  readonly thresholdSource?: string;
  /** Runtime for run directories and .safetensors models: onnx (default) or tfjs. */
  readonly backend?: BackendName;
  /** onnxruntime intra-op threads (default: every core). */
  readonly threads?: number;
  /** Where the device choice is reported (nothing by default). */
  readonly log?: (line: string) => void;
  /**
   * Largest width x height decoded (default: no limit). Set it when images come from outside: the
   * size is read from the header before any pixel is decoded (decompression bombs).
   */
  readonly maxInputPixels?: number;
}

export interface DetectManyOptions {
  /** Images per model run (default 8). */
  readonly batchSize?: number;
  /** After each batch: images done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Detector {
  /** The model's input size, [height, width]. */
  readonly inputSize: readonly [number, number];
  readonly classes: readonly string[];
  /** The thresholds every detection uses: the model's, or the options' where given. */
  readonly thresholds: DetectionThresholds;
  /** What it runs ("runs/x/model.safetensors (preset cpu, mobilenet_v2, 224x224) on onnx-cpu"). */
  readonly description: string;
  /** The batch model underneath (images at the input size to maps at the input size), for evaluation loops. */
  readonly predictor: Predictor;
  detect(input: DetectorInput): Promise<Detection>;
  /** Detections in input order, a batch at a time. */
  detectMany(inputs: Iterable<DetectorInput> | readonly DetectorInput[], options?: DetectManyOptions): AsyncGenerator<Detection>;
  dispose(): Promise<void>;
}

interface Prepared {
  readonly input: EncodedInput;
  readonly resized: DecodedImage;
}

export async function createDetector(modelPath: string, options: DetectorOptions = {}): Promise<Detector> {
  const predictor = await openPredictor(modelPath, {
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.device ? { device: options.device } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return detectorOf(predictor, options);
}

/** A detector over a predictor already open (a model just trained, a test's closed-form graph). */
export function detectorOf(
  predictor: Predictor,
  options: Pick<DetectorOptions, 'threshold' | 'imageThreshold' | 'thresholdSource' | 'maxInputPixels'> = {},
): Detector {
  const [h, w] = predictor.inputSize;
  const plane = h * w;
  const thresholds = resolveThresholds(
    predictor.thresholds,
    { image: options.imageThreshold ?? null, pixel: options.threshold ?? null },
    options.thresholdSource ?? 'given to the detector',
  );

  const limits = options.maxInputPixels !== undefined ? { limitInputPixels: options.maxInputPixels } : {};
  const prepare = async (raw: DetectorInput): Promise<Prepared> => {
    const input = await encodedInput(raw);
    return { input, resized: await decodeImageBytes(input.bytes, input.name, { size: { width: w, height: h }, ...limits }) };
  };

  const run = async (batch: readonly Prepared[]): Promise<Detection[]> => {
    const data = new Float32Array(batch.length * 3 * plane);
    batch.forEach((p, k) => data.set(p.resized.data, k * 3 * plane));
    const out = await predictor.predict({ dtype: 'float32', shape: [batch.length, 3, h, w], data });
    return batch.map(({ input, resized }, k) => {
      const size = { width: resized.source.width, height: resized.source.height };
      let rgb: Promise<Uint8Array> | null = null;
      return makeDetection({
        name: input.name,
        score: out.scores[k]!,
        modelMap: out.maps[k]!,
        mapSize: { width: w, height: h },
        size,
        thresholds,
        // the picture at its own size (EXIF-oriented as for the model), decoded once and only for the overlay
        rgb: () => (rgb ??= decodeImageBytes(input.bytes, input.name, limits).then((d) => planarToRgb(d.data, size))),
      });
    });
  };

  return {
    inputSize: [h, w],
    classes: predictor.classes,
    thresholds,
    description: predictor.description,
    predictor,
    async detect(input) {
      return (await run([await prepare(input)]))[0]!;
    },
    async *detectMany(inputs, o = {}) {
      const all = [...inputs];
      const size = o.batchSize ?? 8;
      if (!Number.isInteger(size) || size < 1) throw new RangeError(`detectMany: batchSize must be a positive integer, got ${size}`);
      for (let i = 0; i < all.length; i += size) {
        const chunk = all.slice(i, i + size);
        const detections = await run(await Promise.all(chunk.map(prepare)));
        o.onProgress?.(i + chunk.length, all.length);
        yield* detections;
      }
    },
    dispose: () => predictor.dispose(),
  };
}
