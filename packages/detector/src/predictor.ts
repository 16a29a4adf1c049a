/**
 * Something that turns images into anomaly maps: a UniAS graph with weights on a backend, or an
 * exported ONNX file (docs/exported-model.md) on onnxruntime. Images are RGB in [0, 1], NCHW, at
 * the model's input size.
 */
import { extname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { preprocessingMismatch } from '@unias/image/contract';
import { bindWeights, buildInferenceGraph, type ResolvedConfig } from '@unias/model';
import type { Backend, Session, TensorData } from '@unias/graph';
import { DetectorInputError } from './errors.js';
import { loadStoredModel, type StoredThresholds } from './model-store.js';
import { chooseDevice, openBackend, type BackendName } from './backend.js';
import type { DeviceRequest } from '@unias/backend-onnx';

export interface Prediction {
  /** One [H, W] map per image. */
  readonly maps: Float32Array[];
  readonly scores: number[];
}

export interface Predictor {
  readonly inputSize: readonly [number, number];
  readonly classes: readonly string[];
  readonly thresholds: StoredThresholds;
  /** What it is, for messages ("model runs/x/model (cpu, mobilenet_v2) on onnx-cpu"). */
  readonly description: string;
  predict(images: TensorData<'float32'>): Promise<Prediction>;
  dispose(): Promise<void>;
}

function split(out: Record<string, TensorData>, n: number, h: number, w: number): Prediction {
  const map = out['anomaly_map']!;
  const score = out['score']!;
  const maps: Float32Array[] = [];
  for (let i = 0; i < n; i++) maps.push(Float32Array.from((map.data as Float32Array).subarray(i * h * w, (i + 1) * h * w)));
  return { maps, scores: Array.from(score.data as ArrayLike<number>) };
}

/** The whole pipeline graph with these params, prepared batch-generic on a backend. */
export async function createGraphPredictor(o: {
  backend: Backend;
  config: ResolvedConfig;
  params: ReadonlyMap<string, TensorData>;
  classes?: readonly string[];
  thresholds?: StoredThresholds;
  description?: string;
}): Promise<Predictor> {
  const graph = buildInferenceGraph(o.config);
  const params = bindWeights(graph, o.params);
  const session: Session = await o.backend.prepare(graph, { params, dynamicBatch: true });
  const [h, w] = o.config.inputSize;
  return {
    inputSize: [h, w],
    classes: o.classes ?? [],
    thresholds: o.thresholds ?? { image: null, pixel: null, source: null },
    description: o.description ?? `${o.config.backbone.id} model on ${session.backend}`,
    async predict(images) {
      const out = await session.run({ image: images });
      return split(out, images.shape[0]!, h, w);
    },
    dispose: () => session.dispose(),
  };
}

/**
 * An exported pipeline (docs/exported-model.md) on onnxruntime-node: input `image`, outputs
 * `anomaly_map` and `score`, input size, thresholds and classes from its metadata_props.
 */
async function createOnnxFilePredictor(path: string, threads: number | undefined, device: DeviceRequest, log?: (line: string) => void): Promise<Predictor> {
  const { readExportMetadata } = await import('@unias/exporters');
  let meta;
  try {
    meta = await readExportMetadata(path);
  } catch (e) {
    throw new DetectorInputError(`${path}: ${(e as Error).message.split('\n')[0]!.replace(`${path}: `, '')} (see docs/exported-model.md)`);
  }
  // images are decoded by this build's contract; a model that asks for another would be fed wrong inputs
  const mismatch = preprocessingMismatch(meta.raw);
  if (mismatch !== null) throw new DetectorInputError(`${path}: ${mismatch}`);
  const choice = await chooseDevice(device, log);
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(path, {
      graphOptimizationLevel: 'all',
      executionProviders: [...choice.executionProviders],
      ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    });
  } catch (e) {
    throw new DetectorInputError(`${path}: onnxruntime cannot load it: ${(e as Error).message.split('\n')[0]}`);
  }
  const missing = ['image'].filter((n) => !session.inputNames.includes(n)).concat(['anomaly_map', 'score'].filter((n) => !session.outputNames.includes(n)));
  if (missing.length > 0) {
    await session.release();
    throw new DetectorInputError(`${path}: not a UniAS pipeline model (no ${missing.join(', ')}); see docs/exported-model.md`);
  }
  const [h, w] = meta.inputSize;
  return {
    inputSize: [h, w],
    classes: meta.classes,
    thresholds: { image: meta.thresholds.image ?? null, pixel: meta.thresholds.pixel ?? null, source: meta.thresholds.source ?? null },
    description: `ONNX file ${path} (preset ${meta.preset}, ${meta.backbone}, ${h}x${w}, ${meta.precision}${meta.calibration ? `, calibrated on ${meta.calibration.images} images (${meta.calibration.method})` : ''}) on onnx-${choice.device}`,
    async predict(images) {
      const n = images.shape[0]!;
      const out = await session.run({ image: new ort.Tensor('float32', Float32Array.from(images.data), [...images.shape]) });
      const map = out['anomaly_map']!.data as Float32Array;
      const plane = h * w;
      const maps: Float32Array[] = [];
      for (let i = 0; i < n; i++) maps.push(Float32Array.from(map.subarray(i * plane, (i + 1) * plane)));
      return { maps, scores: Array.from(out['score']!.data as Float32Array) };
    },
    dispose: () => session.release(),
  };
}

/** `--model PATH`: a run directory, a unias-layout .safetensors model, or an exported .onnx file. */
export async function openPredictor(
  path: string,
  o: { backend?: BackendName; threads?: number | null; device?: DeviceRequest; log?: (line: string) => void },
): Promise<Predictor> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => null);
  if (!st) throw new DetectorInputError(`model ${path}: no such file or folder`);
  if (st.isFile() && extname(abs).toLowerCase() === '.onnx') return createOnnxFilePredictor(abs, o.threads ?? undefined, o.device ?? 'auto', o.log);
  const stored = await loadStoredModel(abs);
  const backend = await openBackend(o.backend ?? 'onnx', { threads: o.threads ?? null, device: o.device ?? 'auto', ...(o.log ? { log: o.log } : {}) });
  return createGraphPredictor({
    backend,
    config: stored.config,
    params: stored.params,
    classes: stored.classes,
    thresholds: stored.thresholds,
    description: `${stored.path} (preset ${stored.preset}, ${stored.config.backbone.id}, ${stored.config.inputSize.join('x')}) on ${backend.name}`,
  });
}
