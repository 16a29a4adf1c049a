/**
 * safetensors read/write: 8-byte little-endian header length, a JSON header, raw little-endian
 * tensors. Reading validates the header completely (dtype, shape, offsets that tile the data
 * exactly), so a corrupt or truncated file is refused with the reason, never half-read.
 */
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './half.js';
import type { TensorData } from './tensor-data.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafeDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** A view of the raw little-endian bytes. */
  readonly bytes: Uint8Array;
}

export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

export class SafetensorsError extends Error {
  constructor(reason: string, source?: string) {
    super(source ? `${source}: not a valid safetensors file: ${reason}` : `not a valid safetensors file: ${reason}`);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER = 100 * 1024 * 1024;

export function decodeSafetensors(buffer: Uint8Array, source?: string): SafetensorsFile {
  const bad = (reason: string): never => {
    throw new SafetensorsError(reason, source);
  };
  if (buffer.byteLength < 8) bad(`only ${buffer.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER) bad(`header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
  if (8 + headerLen > buffer.byteLength) bad(`header length ${headerLen} runs past the end of the file (${buffer.byteLength} bytes): truncated?`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(8, 8 + headerLen)));
  } catch (e) {
    bad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buffer.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) {
        bad('__metadata__ must map strings to strings');
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) bad(`tensor "${name}": entry is not an object`);
    const dtype = info.dtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) bad(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`tensor "${name}": bad shape ${JSON.stringify(shape)}`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      bad(`tensor "${name}": bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = (shape as number[]).reduce((p, d) => p * d, 1);
    const expected = numel * BYTES[dtype as SafeDType];
    if (end < begin || end - begin !== expected) {
      bad(`tensor "${name}": data_offsets [${begin},${end}] hold ${end - begin} bytes, ${dtype} [${(shape as number[]).join(',')}] needs ${expected}`);
    }
    if (end > dataLen) bad(`tensor "${name}": data ends at ${end}, past the ${dataLen} data bytes: truncated?`);
    ranges.push([begin, end, name]);
    tensors.set(name, {
      name,
      dtype: dtype as SafeDType,
      shape: shape as number[],
      bytes: buffer.subarray(dataStart + begin, dataStart + end),
    });
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < at) bad(`tensor "${name}" overlaps the previous tensor`);
    if (begin > at) bad(`a hole of ${begin - at} bytes before tensor "${name}"`);
    at = end;
  }
  if (at !== dataLen) bad(`${dataLen - at} trailing bytes after the last tensor`);
  return { tensors, metadata };
}

/** Any float dtype as float32 (F16/BF16/F64 converted); integer dtypes converted exactly when they fit. */
export function entryToFloat32(entry: SafetensorsEntry): Float32Array {
  const n = entry.bytes.byteLength / BYTES[entry.dtype];
  const out = new Float32Array(n);
  const dv = new DataView(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
  switch (entry.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToFloat(dv.getUint16(2 * i, true));
      break;
    default: {
      const ints = entryToNumbers(entry);
      for (let i = 0; i < n; i++) out[i] = ints[i]!;
    }
  }
  return out;
}

/** Exact values as JS numbers (float64), for golden comparisons and integer data. */
export function entryToNumbers(entry: SafetensorsEntry): Float64Array {
  const n = entry.bytes.byteLength / BYTES[entry.dtype];
  const out = new Float64Array(n);
  const dv = new DataView(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
  for (let i = 0; i < n; i++) {
    switch (entry.dtype) {
      case 'F64': out[i] = dv.getFloat64(8 * i, true); break;
      case 'F32': out[i] = dv.getFloat32(4 * i, true); break;
      case 'F16': out[i] = halfToFloat(dv.getUint16(2 * i, true)); break;
      case 'BF16': out[i] = bf16ToFloat(dv.getUint16(2 * i, true)); break;
      case 'I64': {
        const v = dv.getBigInt64(8 * i, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new SafetensorsError(`tensor "${entry.name}": I64 value ${v} does not fit a double`);
        }
        out[i] = Number(v);
        break;
      }
      case 'I32': out[i] = dv.getInt32(4 * i, true); break;
      case 'I16': out[i] = dv.getInt16(2 * i, true); break;
      case 'I8': out[i] = dv.getInt8(i); break;
      case 'U8': case 'BOOL': out[i] = dv.getUint8(i); break;
    }
  }
  return out;
}

export function entryToTensor(entry: SafetensorsEntry): TensorData {
  switch (entry.dtype) {
    case 'I64': case 'I32': case 'I16': case 'I8':
      return { dtype: 'int32', shape: entry.shape, data: Int32Array.from(entryToNumbers(entry)) };
    case 'BOOL':
      return { dtype: 'bool', shape: entry.shape, data: Uint8Array.from(entry.bytes) };
    default:
      return { dtype: 'float32', shape: entry.shape, data: entryToFloat32(entry) };
  }
}

export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  /** How to store it; float32 data converts to F16/BF16 with round-to-nearest-even. Default F32. */
  readonly dtype?: SafeDType;
}

export function encodeSafetensors(tensors: Readonly<Record<string, TensorToWrite>>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const dtype = t.dtype ?? 'F32';
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (numel !== t.data.length) throw new Error(`safetensors: "${name}" has ${t.data.length} values for shape [${t.shape.join(',')}]`);
    const len = numel * BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  // Pad with spaces so the data starts 8-byte aligned (as the reference implementation does).
  while ((8 + enc.encode(json).byteLength) % 8 !== 0) json += ' ';
  const headerBytes = enc.encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const name of names) {
    const t = tensors[name]!;
    const dtype = t.dtype ?? 'F32';
    const n = t.data.length;
    for (let i = 0; i < n; i++) {
      const v = t.data[i]!;
      switch (dtype) {
        case 'F64': dv.setFloat64(at, v, true); break;
        case 'F32': dv.setFloat32(at, v, true); break;
        case 'F16': dv.setUint16(at, floatToHalf(v), true); break;
        case 'BF16': dv.setUint16(at, floatToBf16(v), true); break;
        case 'I64': dv.setBigInt64(at, BigInt(Math.trunc(v)), true); break;
        case 'I32': dv.setInt32(at, v, true); break;
        case 'I16': dv.setInt16(at, v, true); break;
        case 'I8': dv.setInt8(at, v); break;
        case 'U8': case 'BOOL': dv.setUint8(at, v); break;
      }
      at += BYTES[dtype];
    }
  }
  return out;
}
