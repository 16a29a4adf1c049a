/**
 * Activation ranges for static quantisation: the float model is run, with the tensors to be
 * quantised added as graph outputs, over calibration images (normal training images: a range
 * stretched by defects would waste int8 steps on what the model should flag, and using test
 * images would leak them into the model). `minmax` keeps the extremes; `percentile` clips each
 * tensor to a percentile of its values (subsampled per image), so one outlier does not widen the step.
 *
 * Only this runs a model: onnxruntime-node is an optional peer dependency of the package, imported
 * here when int8 calibration starts (float32 and fp16 exports never load it).
 */
import { ExportError } from '../errors.js';
import { onnx, type ModelProto } from './onnx-tensors.js';

export const CALIBRATION_METHODS = ['minmax', 'percentile'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

/** The percentile kept by `percentile` calibration (of each tensor's values, both tails). */
export const CALIBRATION_PERCENTILE = 99.99;
/** Values kept per tensor per image for `percentile` (evenly strided). */
const SAMPLES_PER_IMAGE = 8192;

/** What calibration uses of onnxruntime (`onnxruntime-node`'s module satisfies it). */
export interface CalibrationRuntime {
  readonly InferenceSession: {
    create(model: Uint8Array, options: { intraOpNumThreads: number; interOpNumThreads: number }): Promise<CalibrationSession>;
  };
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => object;
}

/** A calibration session: runs the probe model, fetching the named tensors. */
export interface CalibrationSession {
  run(feeds: Record<string, object>, fetches: readonly string[]): Promise<Record<string, { readonly data: unknown }>>;
  release(): Promise<void>;
}

/** Imports the runtime calibration runs on; the default is `import('onnxruntime-node')`. */
export type CalibrationRuntimeImport = () => Promise<CalibrationRuntime>;

const importOnnxRuntime: CalibrationRuntimeImport = () => import('onnxruntime-node');

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

/**
 * The runtime for int8 calibration, or one line saying to install onnxruntime-node: an optional
 * peer dependency, not installed with this package.
 */
export async function loadCalibrationRuntime(importRuntime: CalibrationRuntimeImport = importOnnxRuntime): Promise<CalibrationRuntime> {
  try {
    return await importRuntime();
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new ExportError(
      `precision int8 calibrates on onnxruntime-node, which ${missing ? 'is not installed' : `failed to load (${firstLine(e)})`}: ` +
        'install it beside @unias/exporters (npm install onnxruntime-node), or export float32 or fp16',
    );
  }
}

export interface CalibrationImages {
  /** Each image planar RGB [3, H, W] in [0, 1], at the model's input size. */
  readonly images: readonly Float32Array[];
  readonly method?: CalibrationMethod;
  /** Where the images came from, for the metadata (e.g. "ksdd/train/good"). */
  readonly source?: string;
  /** onnxruntime threads while calibrating (default 1). */
  readonly threads?: number;
  /** How the runtime is imported (default `import('onnxruntime-node')`, an optional peer dependency). */
  readonly runtime?: CalibrationRuntimeImport;
}

export interface TensorRange {
  readonly min: number;
  readonly max: number;
}

function percentileOf(sorted: Float32Array, p: number): number {
  if (sorted.length === 0) return 0;
  const at = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[at]!;
}

/** Ranges of `tensors` over the calibration images, by name. */
export async function calibrateRanges(
  model: ModelProto,
  tensors: readonly string[],
  inputSize: readonly [number, number],
  c: CalibrationImages,
): Promise<Map<string, TensorRange>> {
  const [h, w] = inputSize;
  if (tensors.length === 0) return new Map();
  if (c.images.length === 0) throw new ExportError('int8 export: no calibration images (give normal training images)');
  c.images.forEach((img, i) => {
    if (img.length !== 3 * h * w) throw new ExportError(`int8 export: calibration image ${i} has ${img.length} values, expected 3x${h}x${w}`);
  });
  const method = c.method ?? 'minmax';
  const graph = model.graph!;
  const extra = tensors.map((name) => ({ name, type: { tensorType: { elemType: 1 } } }));
  const probe = onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: { ...graph, output: [...(graph.output ?? []), ...extra] } })).finish();
  const ort = await loadCalibrationRuntime(c.runtime);
  const session = await ort.InferenceSession.create(probe, { intraOpNumThreads: c.threads ?? 1, interOpNumThreads: 1 });
  const mins = new Map<string, number>(tensors.map((t) => [t, Infinity]));
  const maxs = new Map<string, number>(tensors.map((t) => [t, -Infinity]));
  const samples = new Map<string, Float32Array[]>(tensors.map((t) => [t, []]));
  try {
    for (const img of c.images) {
      const out = await session.run({ image: new ort.Tensor('float32', img, [1, 3, h, w]) }, tensors);
      for (const name of tensors) {
        const v = out[name]!.data as Float32Array;
        let lo = mins.get(name)!;
        let hi = maxs.get(name)!;
        for (let i = 0; i < v.length; i++) {
          const x = v[i]!;
          if (x < lo) lo = x;
          if (x > hi) hi = x;
        }
        mins.set(name, lo);
        maxs.set(name, hi);
        if (method === 'percentile') {
          const stride = Math.max(1, Math.floor(v.length / SAMPLES_PER_IMAGE));
          const kept = new Float32Array(Math.ceil(v.length / stride));
          for (let i = 0, k = 0; i < v.length; i += stride, k++) kept[k] = v[i]!;
          samples.get(name)!.push(kept);
        }
      }
    }
  } finally {
    await session.release();
  }
  const ranges = new Map<string, TensorRange>();
  for (const name of tensors) {
    let min = mins.get(name)!;
    let max = maxs.get(name)!;
    if (method === 'percentile') {
      const parts = samples.get(name)!;
      const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      all.sort();
      min = Math.max(min, percentileOf(all, 100 - CALIBRATION_PERCENTILE));
      max = Math.min(max, percentileOf(all, CALIBRATION_PERCENTILE));
    }
    if (!Number.isFinite(min) || !Number.isFinite(max)) throw new ExportError(`int8 export: tensor "${name}" is not finite on the calibration images`);
    ranges.set(name, { min, max });
  }
  return ranges;
}
