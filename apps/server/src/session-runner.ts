/** Runs one (possibly stacked) batch on a model's onnxruntime session, typed arrays in and out. */
import type * as ort from 'onnxruntime-node';
import type { TensorMap } from './batcher.js';
import type { ServedModel, TensorSpec } from './loaded-model.js';

function ortTypeOf(spec: TensorSpec): ort.Tensor.Type {
  switch (spec.datatype) {
    case 'FP32':
      return 'float32';
    case 'FP64':
      return 'float64';
    case 'INT8':
      return 'int8';
    case 'INT16':
      return 'int16';
    case 'INT32':
      return 'int32';
    case 'INT64':
      return 'int64';
    case 'UINT8':
      return 'uint8';
    case 'UINT16':
      return 'uint16';
    case 'UINT32':
      return 'uint32';
    case 'UINT64':
      return 'uint64';
    case 'BOOL':
      return 'bool';
    case 'FP16':
      return 'float16';
    case 'BYTES':
      return 'string';
  }
}

/** Runs one batch on the model's worker session; inputs and outputs as plain typed arrays with dims. */
export function sessionRunner(model: ServedModel): (inputs: TensorMap) => Promise<TensorMap> {
  const types: Record<string, ort.Tensor.Type> = {};
  for (const spec of model.inputs) types[spec.name] = ortTypeOf(spec);
  return async (inputs) => {
    for (const spec of model.inputs) if (inputs[spec.name] === undefined) throw new Error(`input '${spec.name}' is missing`);
    return model.session.run(inputs, types);
  };
}
