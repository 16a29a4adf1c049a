/** The v2 model metadata response and Triton's model configuration for a loaded model. */
import type { ServedModel, TensorSpec } from './loaded-model.js';
import type { ResolvedLimits } from './options.js';

export const PLATFORM = 'onnxruntime_onnx';

/** `versions`: every version served under the name (default: this one). */
export function modelMetadata(m: ServedModel, versions: readonly string[] = [m.version]): unknown {
  const tensor = (t: TensorSpec) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });
  return {
    name: m.name,
    versions: [...versions],
    platform: PLATFORM,
    inputs: m.inputs.map(tensor),
    outputs: m.outputs.map(tensor),
  };
}

/**
 * Triton's model configuration (`GET /v2/models/{name}/config`, the model_configuration extension):
 * with max_batch_size > 0 the dims leave out the batch axis. `parameters` carries the model's
 * metadata_props (thresholds, input size, preset) as Triton string parameters.
 */
export function modelConfig(m: ServedModel, limits: Pick<ResolvedLimits, 'maxBatchSize' | 'maxBatchWaitMs'>): unknown {
  const batched = m.batchable && limits.maxBatchSize > 1;
  const tensor = (t: TensorSpec) => ({
    name: t.name,
    data_type: `TYPE_${t.datatype === 'BYTES' ? 'STRING' : t.datatype}`,
    dims: batched ? t.shape.slice(1) : [...t.shape],
  });
  return {
    name: m.name,
    platform: PLATFORM,
    backend: 'onnxruntime',
    max_batch_size: batched ? limits.maxBatchSize : 0,
    input: m.inputs.map(tensor),
    output: m.outputs.map(tensor),
    ...(batched ? { dynamic_batching: { max_queue_delay_microseconds: Math.round(limits.maxBatchWaitMs * 1000) } } : {}),
    parameters: Object.fromEntries(Object.entries(m.metadata).map(([k, v]) => [k, { string_value: v }])),
  };
}
