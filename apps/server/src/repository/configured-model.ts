/**
 * A loaded ONNX model seen through its config.pbtxt, as Triton serves it: the config's inputs and
 * outputs (names, data types, dims; the batch axis added when max_batch_size > 0) are the API, each
 * checked against what onnxruntime reports for the file; `reshape` maps between the API's shape and
 * the model's; outputs the config leaves out are not served; max_batch_size caps a request's
 * first dimension and a batch; dynamic_batching turns batching across requests on, with its
 * max_queue_delay_microseconds as the wait.
 */
import type { TritonModelConfig, TritonTensorConfig } from '@unias/triton-config';
import type { TensorMap } from '../batcher.js';
import type { V2Datatype } from '../datatypes.js';
import { badRequest } from '../errors.js';
import { readContract, type ServedModel, type TensorSpec } from '../loaded-model.js';
import { RepositoryError } from './scan-repository.js';

/** How a tensor's shape differs between the API and the model (null: the same). */
interface Reshape {
  readonly name: string;
  /** Shape without the batch axis, as the API sees it. */
  readonly api: readonly number[];
  /** Shape without the batch axis, as the model sees it. */
  readonly model: readonly number[];
}

export interface ConfiguredModel {
  /** The model as the API presents it: config names, shapes and version. */
  readonly model: ServedModel;
  /** config max_batch_size (0: no batch axis, requests are whole tensors). */
  readonly maxBatchSize: number;
  /** Batching across requests (config dynamic_batching). */
  readonly dynamicBatching: boolean;
  /** Longest wait for a batch to fill, ms (dynamic_batching max_queue_delay_microseconds). */
  readonly maxQueueDelayMs: number;
  readonly config: TritonModelConfig;
  /** Wraps a runner that speaks the model's shapes into one that speaks the API's. */
  wrapRunner(run: (inputs: TensorMap) => Promise<TensorMap>): (inputs: TensorMap) => Promise<TensorMap>;
  /** 400 when a request's batch (first dimension) exceeds max_batch_size, as Triton answers. */
  checkRequestBatch(inputs: TensorMap): void;
}

const TRITON_TO_V2: Readonly<Record<string, V2Datatype>> = {
  TYPE_BOOL: 'BOOL',
  TYPE_UINT8: 'UINT8',
  TYPE_UINT16: 'UINT16',
  TYPE_UINT32: 'UINT32',
  TYPE_UINT64: 'UINT64',
  TYPE_INT8: 'INT8',
  TYPE_INT16: 'INT16',
  TYPE_INT32: 'INT32',
  TYPE_INT64: 'INT64',
  TYPE_FP16: 'FP16',
  TYPE_FP32: 'FP32',
  TYPE_FP64: 'FP64',
  TYPE_STRING: 'BYTES',
};

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const dimsFit = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);

function tensorsOf(
  kind: 'input' | 'output',
  configured: readonly TritonTensorConfig[] | undefined,
  actual: readonly TensorSpec[],
  batched: boolean,
  where: string,
): { specs: TensorSpec[]; reshapes: Reshape[] } {
  // No tensors in the config: the model's own, as Triton's auto-complete fills them in.
  if (configured === undefined || configured.length === 0) {
    if (batched) {
      for (const t of actual) {
        if (t.shape[0] !== -1)
          throw new RepositoryError(`${where}: max_batch_size > 0 needs a dynamic first axis, but ${kind} '${t.name}' is [${t.shape.join(',')}]`);
      }
    }
    return { specs: [...actual], reshapes: [] };
  }
  const specs: TensorSpec[] = [];
  const reshapes: Reshape[] = [];
  const seen = new Set<string>();
  for (const c of configured) {
    const name = c.name ?? '';
    if (seen.has(name)) throw new RepositoryError(`${where}: ${kind} '${name}' is listed twice`);
    seen.add(name);
    const onnx = actual.find((t) => t.name === name);
    if (onnx === undefined) {
      throw new RepositoryError(`${where}: ${kind} '${name}' is not in the model (its ${kind}s: ${actual.map((t) => t.name).join(', ')})`);
    }
    const datatype = TRITON_TO_V2[c.data_type ?? 'TYPE_INVALID'];
    if (datatype === undefined) throw new RepositoryError(`${where}: ${kind} '${name}' needs a data_type (got ${c.data_type ?? 'none'})`);
    if (datatype !== onnx.datatype) {
      throw new RepositoryError(`${where}: ${kind} '${name}' is data_type ${c.data_type}, but the model's is ${onnx.datatype}`);
    }
    const dims = [...(c.dims ?? [])];
    if (dims.some((d) => d < -1 || d === 0)) throw new RepositoryError(`${where}: ${kind} '${name}' dims [${dims.join(',')}] must be positive or -1`);
    const modelDims = c.reshape !== undefined ? [...(c.reshape.shape ?? [])] : dims;
    if (c.reshape !== undefined && !dims.includes(-1) && !modelDims.includes(-1) && elements(dims) !== elements(modelDims)) {
      throw new RepositoryError(
        `${where}: ${kind} '${name}' reshape [${modelDims.join(',')}] holds a different number of elements than dims [${dims.join(',')}]`,
      );
    }
    const modelShape = batched ? [-1, ...modelDims] : modelDims;
    if (batched && onnx.shape[0] !== -1) {
      throw new RepositoryError(`${where}: max_batch_size > 0 needs a dynamic first axis, but ${kind} '${name}' is [${onnx.shape.join(',')}] in the model`);
    }
    if (!dimsFit(modelShape, onnx.shape)) {
      throw new RepositoryError(
        `${where}: ${kind} '${name}' is [${modelShape.join(',')}] by the config${batched ? ' (with the batch axis)' : ''}, but [${onnx.shape.join(',')}] in the model`,
      );
    }
    specs.push({ name, datatype, shape: batched ? [-1, ...dims] : dims });
    if (c.reshape !== undefined) reshapes.push({ name, api: dims, model: modelDims });
  }
  if (kind === 'input') {
    const missing = actual.filter((t) => !seen.has(t.name));
    if (missing.length > 0) throw new RepositoryError(`${where}: the model's input ${missing.map((t) => `'${t.name}'`).join(', ')} is not in the config`);
  }
  return { specs, reshapes };
}

function reshapeMap(values: TensorMap, reshapes: readonly Reshape[], batched: boolean, to: 'api' | 'model'): TensorMap {
  if (reshapes.length === 0) return values;
  const out: Record<string, TensorMap[string]> = { ...values };
  for (const r of reshapes) {
    const v = values[r.name];
    if (v === undefined) continue;
    const target = to === 'api' ? r.api : r.model;
    const batch = batched ? [v.dims[0] ?? 0] : [];
    const rest = elements(v.dims.slice(batch.length));
    // A -1 in the target takes what is left.
    const known = elements(target.filter((d) => d !== -1));
    const dims = target.map((d) => (d === -1 ? rest / Math.max(1, known) : d));
    out[r.name] = { data: v.data, dims: [...batch, ...dims] };
  }
  return out;
}

/** `model` (loaded from a repository version folder) configured by `config`; `where` names the config file in errors. */
export function configureModel(model: ServedModel, config: TritonModelConfig, version: string, where: string): ConfiguredModel {
  const maxBatchSize = config.max_batch_size ?? 0;
  const batched = maxBatchSize > 0;
  const ins = tensorsOf('input', config.input, model.inputs, batched, where);
  const outs = tensorsOf('output', config.output, model.outputs, batched, where);
  const served = new Set(outs.specs.map((t) => t.name));
  const { contract, problem } = readContract(ins.specs, outs.specs, model.metadata);
  const parameters = Object.fromEntries(Object.entries(config.parameters ?? {}).map(([k, v]) => [k, v.string_value ?? '']));
  const apiModel: ServedModel = {
    ...model,
    version,
    inputs: ins.specs,
    outputs: outs.specs,
    // ONNX metadata_props first, config parameters over them (our exporter writes the same keys to both).
    metadata: { ...model.metadata, ...parameters },
    batchable: batched && [...ins.specs, ...outs.specs].every((t) => t.shape[0] === -1),
    contract,
    contractProblem: problem,
  };
  const delayUs = config.dynamic_batching?.max_queue_delay_microseconds ?? 0;
  return {
    model: apiModel,
    maxBatchSize,
    dynamicBatching: batched && config.dynamic_batching !== undefined,
    maxQueueDelayMs: delayUs / 1000,
    config,
    wrapRunner: (run) => async (inputs) => {
      const outputs = await run(reshapeMap(inputs, ins.reshapes, batched, 'model'));
      const kept: Record<string, TensorMap[string]> = {};
      for (const [name, value] of Object.entries(outputs)) if (served.has(name)) kept[name] = value;
      return reshapeMap(kept, outs.reshapes, batched, 'api');
    },
    checkRequestBatch(inputs) {
      if (!batched) return;
      for (const [name, value] of Object.entries(inputs)) {
        const n = value.dims[0] ?? 0;
        if (n > maxBatchSize) {
          throw badRequest(`inference request batch-size must be <= ${maxBatchSize} for '${model.name}' (input '${name}' has ${n}; config max_batch_size)`);
        }
      }
    },
  };
}

/** Triton's JSON form of the model configuration (GET .../config): the config as parsed, with its name. */
export function configJson(c: ConfiguredModel): unknown {
  return { ...c.config, name: c.model.name, platform: c.config.platform || 'onnxruntime_onnx', max_batch_size: c.maxBatchSize };
}
