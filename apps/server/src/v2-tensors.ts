/**
 * Open Inference Protocol v2 inference payloads: parsing and validating requests against a model's
 * tensor specs, and encoding responses. JSON tensors (flat or nested `data`) follow the spec; the
 * binary tensor data extension (Triton's `Inference-Header-Content-Length`) is supported too, so
 * Triton clients that send or ask for binary tensors work unchanged.
 */
import { datatypeInfo, type DatatypeInfo, type NumericArray } from './datatypes.js';
import type { TensorMap, TensorValue } from './batcher.js';
import { badRequest } from './errors.js';
import type { TensorSpec } from './loaded-model.js';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@unias/server reads and writes binary tensors as little-endian and needs a little-endian host');
}

export interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

export interface InferRequest {
  readonly id: string | undefined;
  readonly inputs: TensorMap;
  /** The outputs to return, in order. */
  readonly outputs: readonly RequestedOutput[];
}

interface ModelTensors {
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly batchable: boolean;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses JSON, naming the problem when it is not JSON. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`malformed JSON in ${what}: ${(e as Error).message}`);
  }
}

function parametersOf(v: unknown, where: string): JsonObject {
  if (v === undefined) return {};
  if (!isObject(v)) throw badRequest(`${where}.parameters must be an object`);
  return v;
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) throw badRequest(`${where}.shape must be an array of non-negative integers`);
  return shape.map((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw badRequest(`${where}.shape[${i}] = ${JSON.stringify(d)} is not a non-negative integer`);
    }
    return d;
  });
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.map((d) => (d === -1 ? '-1' : String(d))).join(', ')}]`;
}

function checkAgainstSpec(shape: readonly number[], spec: TensorSpec, where: string): void {
  const mismatch = (): never => {
    throw badRequest(`${where} has shape ${describeShape(shape)}; model expects ${describeShape(spec.shape)} (-1 = any size)`);
  };
  if (spec.shape.length > 0 && shape.length !== spec.shape.length) mismatch();
  spec.shape.forEach((d, i) => {
    if (d !== -1 && shape[i] !== d) mismatch();
  });
}

/**
 * The leaves of nested JSON `data` in row-major order. Runs of numbers parsed off-thread arrive as
 * Float64Arrays (see json-body.ts); when every leaf run is one, they are joined without boxing.
 */
function flatten(data: unknown, where: string): ArrayLike<unknown> {
  if (data instanceof Float64Array) return data;
  if (!Array.isArray(data)) return [data];
  if (data.length === 0 || (!Array.isArray(data[0]) && !(data[0] instanceof Float64Array))) return data;
  const runs: ArrayLike<unknown>[] = [];
  let total = 0;
  let allPacked = true;
  const walk = (v: unknown, depth: number): void => {
    if (depth > 64) throw badRequest(`${where}.data is nested deeper than 64 levels`);
    if (v instanceof Float64Array) {
      runs.push(v);
      total += v.length;
    } else if (Array.isArray(v)) {
      if (v.length > 0 && !Array.isArray(v[0]) && !(v[0] instanceof Float64Array)) {
        allPacked = false;
        runs.push(v);
        total += v.length;
      } else for (const x of v) walk(x, depth + 1);
    } else {
      allPacked = false;
      runs.push([v]);
      total += 1;
    }
  };
  walk(data, 0);
  if (allPacked) {
    const out = new Float64Array(total);
    let o = 0;
    for (const r of runs) {
      out.set(r as Float64Array, o);
      o += r.length;
    }
    return out;
  }
  const out: unknown[] = [];
  for (const r of runs) for (let i = 0; i < r.length; i++) out.push(r[i]);
  return out;
}

function convertElements(values: ArrayLike<unknown>, info: DatatypeInfo, where: string): NumericArray {
  const out = info.make(values.length);
  const bad = (i: number, v: unknown, want: string): never => {
    throw badRequest(`${where}.data[${i}] = ${JSON.stringify(v)?.slice(0, 40)} is not ${want} (datatype ${info.v2})`);
  };
  switch (info.kind) {
    case 'float': {
      const f = out as Float32Array | Float64Array;
      if (values instanceof Float64Array) {
        f.set(values);
        break;
      }
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number') bad(i, v, 'a number');
        f[i] = v as number;
      }
      break;
    }
    case 'int': {
      const a = out as Exclude<NumericArray, BigInt64Array | BigUint64Array | Float32Array | Float64Array>;
      const min = info.v2.startsWith('U') ? 0 : -(2 ** (info.bytes * 8 - 1));
      const max = info.v2.startsWith('U') ? 2 ** (info.bytes * 8) - 1 : 2 ** (info.bytes * 8 - 1) - 1;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(i, v, `an integer in [${min}, ${max}]`);
        a[i] = v as number;
      }
      break;
    }
    case 'bigint': {
      const a = out as BigInt64Array | BigUint64Array;
      const unsigned = info.v2.startsWith('U');
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || (unsigned && v < 0)) bad(i, v, 'a safe integer');
        a[i] = BigInt(v as number);
      }
      break;
    }
    case 'bool': {
      const a = out as Uint8Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v === true || v === 1) a[i] = 1;
        else if (v === false || v === 0) a[i] = 0;
        else bad(i, v, 'a boolean');
      }
      break;
    }
  }
  return out;
}

function fromBytes(bytes: Uint8Array, info: DatatypeInfo, count: number): NumericArray {
  const out = info.make(count);
  // Copy: the slice of the request body need not be aligned for the typed array.
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

export interface InferParseLimits {
  /** Most samples (first dimension) one request may carry when the model is batchable. */
  readonly maxBatchSize?: number;
}

/**
 * The JSON part of an inference body: all of it, or its first `headerLength` bytes (binary tensor
 * extension, `Inference-Header-Content-Length`).
 */
export function inferHeaderBytes(body: Buffer, headerLength: number | null): Buffer {
  if (body.length === 0) throw badRequest('the request body is empty; send an inference request JSON object');
  if (headerLength !== null && (headerLength > body.length || headerLength <= 0)) {
    throw badRequest(`Inference-Header-Content-Length ${headerLength} does not fit the ${body.length}-byte body`);
  }
  return body.subarray(0, headerLength ?? body.length);
}

/**
 * Parses an inference request body. `headerLength` is the `Inference-Header-Content-Length` value
 * (binary extension) or null for a plain JSON body.
 */
export function parseInferRequest(body: Buffer, headerLength: number | null, model: ModelTensors, limits: InferParseLimits = {}): InferRequest {
  const header = inferHeaderBytes(body, headerLength);
  return inferRequestOf(parseJson(header.toString('utf8'), 'the inference request'), body, headerLength, model, limits);
}

/**
 * Checks a parsed request header (`json`) against the model and reads its tensors: binary ones from
 * `body` after its first `headerLength` bytes (with `headerLength` null, `body` is not read).
 */
export function inferRequestOf(json: unknown, body: Buffer, headerLength: number | null, model: ModelTensors, limits: InferParseLimits = {}): InferRequest {
  const jsonEnd = headerLength ?? body.length;
  if (!isObject(json)) throw badRequest('the inference request must be a JSON object with an "inputs" array');
  const id = json['id'];
  if (id !== undefined && typeof id !== 'string') throw badRequest('"id" must be a string');
  const rawInputs = json['inputs'];
  if (!Array.isArray(rawInputs) || rawInputs.length === 0) throw badRequest('"inputs" must be a non-empty array of tensors');
  const requestParams = parametersOf(json['parameters'], 'request');

  let binaryOffset = jsonEnd;
  const inputs: Record<string, TensorValue> = {};
  rawInputs.forEach((raw, index) => {
    const where0 = `inputs[${index}]`;
    if (!isObject(raw)) throw badRequest(`${where0} must be an object with name, shape, datatype and data`);
    const name = raw['name'];
    if (typeof name !== 'string') throw badRequest(`${where0}.name must be a string`);
    const where = `input '${name}'`;
    const spec = model.inputs.find((t) => t.name === name);
    if (spec === undefined) {
      throw badRequest(`unknown ${where}; model '${model.name}' takes ${model.inputs.map((t) => `'${t.name}'`).join(', ')}`);
    }
    if (inputs[name] !== undefined) throw badRequest(`${where} is given twice`);
    const datatype = raw['datatype'];
    if (typeof datatype !== 'string') throw badRequest(`${where}.datatype must be a string such as "${spec.datatype}"`);
    if (datatype !== spec.datatype) throw badRequest(`${where} has datatype ${datatype}; model expects ${spec.datatype}`);
    const info = datatypeInfo(datatype);
    if (info === undefined) throw badRequest(`${where}: datatype ${datatype} is not supported by this server`);
    const shape = checkShape(raw['shape'], where);
    checkAgainstSpec(shape, spec, where);
    if (model.batchable && limits.maxBatchSize !== undefined && shape.length > 0 && shape[0]! > limits.maxBatchSize) {
      throw badRequest(
        `${where} has batch size ${shape[0]}; model '${model.name}' takes at most ${limits.maxBatchSize} samples per request (max_batch_size, set by max-batch-size)`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const params = parametersOf(raw['parameters'], where);
    const binarySize = params['binary_data_size'];
    let data: NumericArray;
    if (binarySize !== undefined) {
      if (headerLength === null) throw badRequest(`${where} sets binary_data_size but the request has no Inference-Header-Content-Length header`);
      if (typeof binarySize !== 'number' || !Number.isSafeInteger(binarySize) || binarySize < 0) {
        throw badRequest(`${where}.parameters.binary_data_size must be a non-negative integer`);
      }
      if (binarySize !== count * info.bytes) {
        throw badRequest(`${where}: binary_data_size ${binarySize} != ${count} elements x ${info.bytes} bytes of ${datatype}`);
      }
      if (binaryOffset + binarySize > body.length) throw badRequest(`${where}: the binary data runs past the end of the body`);
      data = fromBytes(body.subarray(binaryOffset, binaryOffset + binarySize), info, count);
      binaryOffset += binarySize;
    } else {
      const rawData = raw['data'];
      if (rawData === undefined) throw badRequest(`${where} has no "data"`);
      const values = flatten(rawData, where);
      if (values.length !== count) {
        throw badRequest(`${where} has ${values.length} data elements; shape ${describeShape(shape)} needs ${count}`);
      }
      data = convertElements(values, info, where);
    }
    inputs[name] = { data, dims: shape };
  });
  if (headerLength !== null && binaryOffset !== body.length) {
    throw badRequest(`the body has ${body.length - binaryOffset} bytes after the last binary input`);
  }
  const missing = model.inputs.filter((t) => inputs[t.name] === undefined).map((t) => `'${t.name}'`);
  if (missing.length > 0) throw badRequest(`missing input ${missing.join(', ')} for model '${model.name}'`);
  const batchSizes = new Set(Object.values(inputs).map((t) => t.dims[0]));
  if (model.batchable && batchSizes.size > 1) {
    throw badRequest(`inputs disagree on the batch size (first dimension): ${[...batchSizes].join(' vs ')}`);
  }
  if (model.batchable && batchSizes.has(0)) throw badRequest('the batch (first dimension) is empty');

  const binaryAll = requestParams['binary_data_output'] === true;
  const rawOutputs = json['outputs'];
  let outputs: RequestedOutput[];
  if (rawOutputs === undefined) outputs = model.outputs.map((t) => ({ name: t.name, binary: binaryAll }));
  else {
    if (!Array.isArray(rawOutputs)) throw badRequest('"outputs" must be an array of {"name": ...}');
    outputs = rawOutputs.map((raw, index) => {
      if (!isObject(raw) || typeof raw['name'] !== 'string') throw badRequest(`outputs[${index}] must be an object with a string "name"`);
      const name = raw['name'];
      if (!model.outputs.some((t) => t.name === name)) {
        throw badRequest(`unknown output '${name}'; model '${model.name}' has ${model.outputs.map((t) => `'${t.name}'`).join(', ')}`);
      }
      const params = parametersOf(raw['parameters'], `output '${name}'`);
      const binary = params['binary_data'] === undefined ? binaryAll : params['binary_data'] === true;
      return { name, binary };
    });
  }
  return { id, inputs, outputs };
}

function jsonData(data: NumericArray, datatype: string): unknown[] {
  if (datatype === 'BOOL') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, (v) => Number(v));
  return Array.from(data);
}

export interface EncodedResponse {
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** The inference response: plain JSON, or JSON header + binary tensors when any output asks for binary. */
export function encodeInferResponse(model: ModelTensors, request: InferRequest, outputs: TensorMap): EncodedResponse {
  const binaryParts: Buffer[] = [];
  const responseOutputs = request.outputs.map((wanted) => {
    const value = outputs[wanted.name];
    const spec = model.outputs.find((t) => t.name === wanted.name);
    if (value === undefined || spec === undefined) throw new Error(`the model did not produce output '${wanted.name}'`);
    const base = { name: wanted.name, datatype: spec.datatype, shape: [...value.dims] };
    if (!wanted.binary) {
      if (spec.datatype === 'FP16' || spec.datatype === 'BYTES') {
        throw badRequest(
          `output '${wanted.name}' is ${spec.datatype}, which this server returns only as binary data; ask for it with parameters.binary_data = true`,
        );
      }
      return { ...base, data: jsonData(value.data, spec.datatype) };
    }
    const bytes = Buffer.from(value.data.buffer, value.data.byteOffset, value.data.byteLength);
    binaryParts.push(bytes);
    return { ...base, parameters: { binary_data_size: bytes.length } };
  });
  const header = {
    model_name: model.name,
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs: responseOutputs,
  };
  const json = Buffer.from(JSON.stringify(header));
  if (binaryParts.length === 0) return { contentType: 'application/json', headers: {}, body: json };
  return {
    contentType: 'application/octet-stream',
    headers: { 'Inference-Header-Content-Length': String(json.length) },
    body: Buffer.concat([json, ...binaryParts]),
  };
}
