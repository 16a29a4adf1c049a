/**
 * The whole pipeline as one ONNX file (docs/exported-model.md): input `image` float32 [N, 3, H, W]
 * RGB in [0, 1] (normalised inside), outputs `anomaly_map` [N, 1, H, W] and `score` [N], the batch
 * dimension symbolic (`N`), weights as initializers, the model's metadata in metadata_props.
 */
import { formatShape, writeFileAtomic, type TensorData } from '@unias/graph';
import { BATCH_DIM, encodeModel, lowerGraph, type IoSpec, type LoweredModel } from '@unias/onnx-lowering';
import type { ResolvedConfig } from '@unias/model';
import { ExportError } from './errors.js';
import { checkInfo, mergeInfo, type ExportableModel, type ModelInfo } from './model-info.js';
import { checkTensors, describeModel, modelGraphs, type ModelGraphs } from './model-check.js';
import { exportMetadata } from './onnx-metadata.js';
import { prepareOutputFile } from './out-path.js';
import { stepper, type ProgressCallback } from './progress.js';
import { loadCalibrationRuntime, type CalibrationImages } from './quantize/calibrate.js';
import { checkPrecision, type Precision } from './quantize/precision.js';
import { quantizeInt8, type Int8Summary } from './quantize/quantize-model.js';
import { storeWeightsAsFloat16, type Float16Summary } from './quantize/float16.js';

export interface OnnxModelOptions {
  readonly model: ExportableModel;
  /** Preset, thresholds, classes on top of the model's own. */
  readonly metadata?: ModelInfo;
  /** The ONNX doc_string (default: a one-line description of the pipeline). */
  readonly docString?: string;
  readonly onProgress?: ProgressCallback;
  /** float32 (default), int8 (static QDQ quantisation; needs `calibration`) or fp16 (float16 weights, float32 arithmetic). */
  readonly precision?: Precision;
  /** int8: normal training images to calibrate activation ranges on. */
  readonly calibration?: CalibrationImages;
}

export interface OnnxModel {
  readonly bytes: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  readonly config: ResolvedConfig;
  readonly precision: Precision;
  /** int8: what was folded and quantised. */
  readonly quantized?: Int8Summary;
  /** fp16: how many weights were stored as float16. */
  readonly float16?: Float16Summary;
}

function ioText(io: IoSpec): string {
  return `${io.name} ${io.dtype} [${io.shape.map((d, i) => (i === io.batchAxis ? BATCH_DIM : d)).join(',')}]`;
}

/** The lowered model must be exactly the contract: a wrong lowering fails here, not in a server. */
function checkContract(inputs: readonly IoSpec[], outputs: readonly IoSpec[], [h, w]: readonly [number, number]): void {
  const want = [
    { name: 'image', shape: [1, 3, h, w] },
    { name: 'anomaly_map', shape: [1, 1, h, w] },
    { name: 'score', shape: [1] },
  ];
  const got = [...inputs, ...outputs];
  const ok =
    inputs.length === 1 &&
    outputs.length === 2 &&
    want.every((spec, i) => {
      const io = got[i]!;
      return io.name === spec.name && io.dtype === 'float32' && io.batchAxis === 0 && formatShape(io.shape) === formatShape(spec.shape);
    });
  if (!ok) {
    throw new ExportError(
      `the lowered pipeline breaks the export contract: inputs ${inputs.map(ioText).join(', ')}; outputs ${outputs.map(ioText).join(', ')} ` +
        `(want image float32 [N,3,${h},${w}] -> anomaly_map float32 [N,1,${h},${w}], score float32 [N])`,
    );
  }
}

function float32Params(params: ReadonlyMap<string, TensorData>): Map<string, TensorData<'float32'>> {
  const out = new Map<string, TensorData<'float32'>>();
  for (const [name, t] of params) {
    if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) throw new ExportError(`param "${name}" is ${t.dtype}; parameters must be float32`);
    out.set(name, { dtype: 'float32', shape: t.shape, data: t.data });
  }
  return out;
}

/** The ONNX model in memory (bytes, metadata, input/output specs), checked against the contract. */
export function buildOnnxModel(o: OnnxModelOptions): OnnxModel {
  const step = stepper(3, o.onProgress);
  step('checking the model and its weights');
  return lowerChecked(o, checkModel(o), step);
}

/** A model whose configuration, weights and metadata were checked (cheap: no lowering yet). */
export interface CheckedModel {
  readonly precision: Precision;
  readonly graphs: ModelGraphs;
  readonly info: ModelInfo;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Checks configuration, weights and metadata, so that bad input fails before any file or folder is made. */
export function checkModel(o: OnnxModelOptions): CheckedModel {
  const info = mergeInfo(o.model, o.metadata);
  checkInfo(info);
  const precision = checkPrecision(o.precision ?? 'float32');
  const c = o.calibration;
  if (precision === 'int8' && (!c || c.images.length === 0))
    throw new ExportError('precision int8 needs calibration images (normal training images), none given');
  if (precision !== 'int8' && c) throw new ExportError(`calibration images apply to precision int8 only, not ${precision}`);
  const graphs = modelGraphs(o.model.config);
  checkTensors(graphs, o.model.params, { model: describeModel(graphs, info.preset) });
  const calibration =
    c && precision === 'int8' ? { images: c.images.length, method: c.method ?? 'minmax', ...(c.source !== undefined ? { source: c.source } : {}) } : undefined;
  return { precision, graphs, info, metadata: exportMetadata(graphs.resolved, info, precision, calibration) };
}

function lowerToProto(o: OnnxModelOptions, checked: CheckedModel): LoweredModel {
  const { graphs: g, info, metadata } = checked;
  const [h, w] = g.resolved.inputSize;
  const lowered = lowerGraph(g.inference, {
    params: float32Params(o.model.params),
    dynamicBatch: true,
    metadata,
    graphName: 'unias',
    docString:
      o.docString ??
      `UniAS anomaly detection (${describeModel(g, info.preset)}): image float32 [N,3,${h},${w}] RGB in [0,1] -> anomaly_map float32 [N,1,${h},${w}], score float32 [N] (max of the map)`,
  });
  checkContract(lowered.inputs, lowered.outputs, g.resolved.inputSize);
  return lowered;
}

/** Lowers a checked float32 model (two progress steps: lowering, encoding). */
export function lowerChecked(o: OnnxModelOptions, checked: CheckedModel, step: (message: string) => void): OnnxModel {
  if (checked.precision !== 'float32') throw new ExportError(`precision ${checked.precision} is written by writeOnnxExport / buildQuantizedOnnxModel only`);
  step(`lowering to ONNX (${checked.graphs.inference.params.size} weight tensors)`);
  const lowered = lowerToProto(o, checked);
  step('encoding the ONNX model');
  return {
    bytes: encodeModel(lowered.model),
    metadata: checked.metadata,
    inputs: lowered.inputs,
    outputs: lowered.outputs,
    config: checked.graphs.resolved,
    precision: 'float32',
  };
}

/** Lowers a checked int8 or fp16 model (three progress steps). */
async function lowerQuantized(o: OnnxModelOptions, checked: CheckedModel, step: (message: string) => void): Promise<OnnxModel> {
  // int8 calibrates on onnxruntime-node (an optional peer dependency): without it, fail before lowering
  let calibration: CalibrationImages | undefined;
  if (checked.precision === 'int8') {
    const runtime = await loadCalibrationRuntime(o.calibration!.runtime);
    calibration = { ...o.calibration!, runtime: () => Promise.resolve(runtime) };
  }
  step(`lowering to ONNX (${checked.graphs.inference.params.size} weight tensors)`);
  const lowered = lowerToProto(o, checked);
  const common = { metadata: checked.metadata, inputs: lowered.inputs, outputs: lowered.outputs, config: checked.graphs.resolved };
  if (checked.precision === 'fp16') {
    step('storing the weights as float16');
    const float16 = storeWeightsAsFloat16(lowered.model.graph!);
    step('encoding the ONNX model');
    return { ...common, bytes: encodeModel(lowered.model), precision: 'fp16', float16 };
  }
  const c = calibration!;
  step(`calibrating int8 ranges on ${c.images.length} images (${c.method ?? 'minmax'}) and quantising`);
  const quantized = await quantizeInt8(lowered.model, checked.graphs.resolved.inputSize, c);
  step('encoding the ONNX model');
  return { ...common, bytes: encodeModel(lowered.model), precision: 'int8', quantized };
}

/** The ONNX model in memory at any precision; int8 runs the float model over the calibration images first. */
export async function buildQuantizedOnnxModel(o: OnnxModelOptions): Promise<OnnxModel> {
  const checked = checkModel(o);
  const step = stepper(checked.precision === 'float32' ? 3 : 4, o.onProgress);
  step('checking the model and its weights');
  return checked.precision === 'float32' ? lowerChecked(o, checked, step) : lowerQuantized(o, checked, step);
}

export interface OnnxFileOptions extends OnnxModelOptions {
  /** The .onnx file to write (atomically; its folder is created). */
  readonly out: string;
}

/** Writes the pipeline as one .onnx file; returns what `buildOnnxModel` returns. */
export async function writeOnnxExport(o: OnnxFileOptions): Promise<OnnxModel> {
  const checked = checkModel(o);
  const step = stepper(checked.precision === 'float32' ? 4 : 5, o.onProgress);
  step('checking the model and its weights');
  await prepareOutputFile(o.out);
  const built = checked.precision === 'float32' ? lowerChecked(o, checked, step) : await lowerQuantized(o, checked, step);
  step(`writing ${o.out} (${(built.bytes.byteLength / 1e6).toFixed(1)} MB)`);
  await writeFileAtomic(o.out, built.bytes);
  return built;
}
