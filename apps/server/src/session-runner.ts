/** Runs one (possibly stacked) batch on a model's onnxruntime session, typed arrays in and out. */
import * as ort from 'onnxruntime-node';
import type { TensorMap, TensorValue } from './batcher.js';
import type { NumericArray } from './datatypes.js';
import type { LoadedModel, TensorSpec } from './loaded-model.js';

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

function isNumericArray(data: ort.Tensor.DataType): data is NumericArray {
  return ArrayBuffer.isView(data);
}

/** Runs one batch on a session; inputs and outputs as plain typed arrays with dims. */
export function sessionRunner(model: LoadedModel): (inputs: TensorMap) => Promise<TensorMap> {
  return async (inputs) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const spec of model.inputs) {
      const t = inputs[spec.name];
      if (t === undefined) throw new Error(`input '${spec.name}' is missing`);
      feeds[spec.name] = new ort.Tensor(ortTypeOf(spec), t.data, [...t.dims]);
    }
    const results = await model.session.run(feeds);
    const out: Record<string, TensorValue> = {};
    for (const [name, tensor] of Object.entries(results)) {
      const data = tensor.data;
      if (!isNumericArray(data)) throw new Error(`output '${name}' is not a numeric tensor`);
      out[name] = { data, dims: [...tensor.dims] };
    }
    return out;
  };
}
