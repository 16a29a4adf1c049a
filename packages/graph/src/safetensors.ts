/**
 * safetensors read/write: 8-byte little-endian header length, a JSON header, raw little-endian
 * tensors. Reading validates the header completely (dtype, shape, offsets that tile the data
 * exactly), so a corrupt or truncated file is refused with the reason, never half-read.
 */
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from './half.js';
import type { TensorData } from './tensor-data.js';
import { crc32Hex } from './crc32.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES: Record<SafeDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** A view of the raw little-endian bytes. */
  readonly bytes: Uint8Array;
  /** The file it came from, when known (for error messages). */
  readonly source?: string;
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
/** A safetensors header is `{ name: { dtype, shape: [..], data_offsets: [..] } }`: depth 3. */
const MAX_HEADER_DEPTH = 8;

/**
 * `__metadata__` key of this project's per-tensor checksums: JSON `{ name: crc32 hex }` over each
 * tensor's bytes, plus `__header__` over the rest of the header (see headerDigest). Other readers
 * ignore it; ours verify it whenever it is present.
 */
export const CHECKSUM_METADATA_KEY = 'unias.crc32';
const HEADER_CHECKSUM = '__header__';

function isDType(v: unknown): v is SafeDType {
  return typeof v === 'string' && Object.hasOwn(BYTES, v);
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * One pass over the header text before JSON.parse (which keeps the last of duplicate keys
 * silently, and would build arbitrarily deep structures): the first problem found, or null.
 * Assumes nothing about validity: malformed text is left for JSON.parse to report.
 */
function scanHeader(text: string): string | null {
  const stack: Array<Set<string> | null> = []; // a key set per open object, null per array
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (j >= n) return null;
      const keys = stack[stack.length - 1];
      if (keys) {
        let k = j + 1;
        while (k < n && isWhitespace(text.charCodeAt(k))) k++;
        if (text.charCodeAt(k) === 0x3a) {
          let key: string;
          try {
            key = JSON.parse(text.slice(i, j + 1)) as string;
          } catch {
            return null;
          }
          if (keys.has(key)) return `duplicate key ${JSON.stringify(key)}${stack.length > 1 ? ' in a nested object' : ''}`;
          keys.add(key);
        }
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_HEADER_DEPTH) return `nested deeper than ${MAX_HEADER_DEPTH} levels`;
    } else if (c === 0x7d || c === 0x5d) stack.pop();
    i++;
  }
  return null;
}

/** The checksummed form of everything in the header but the checksums themselves. */
function headerDigest(
  metadata: Readonly<Record<string, string>>,
  entries: ReadonlyArray<readonly [string, SafeDType, readonly number[], number, number]>,
): string {
  const meta = Object.keys(metadata)
    .filter((k) => k !== CHECKSUM_METADATA_KEY)
    .sort()
    .map((k) => [k, metadata[k]]);
  const tensors = [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return crc32Hex(new TextEncoder().encode(JSON.stringify([meta, tensors])));
}

export interface DecodeOptions {
  /**
   * Refuse a file without checksums (CHECKSUM_METADATA_KEY). For formats that always carry them:
   * otherwise damage to the key's own name would pass for a file that never had any.
   */
  readonly requireChecksums?: boolean;
}

export function decodeSafetensors(buffer: Uint8Array, source?: string, options: DecodeOptions = {}): SafetensorsFile {
  const bad = (reason: string): never => {
    throw new SafetensorsError(reason, source);
  };
  if (buffer.byteLength < 8) bad(`only ${buffer.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER) bad(`header length ${headerLen} exceeds ${MAX_HEADER} bytes`);
  if (8 + headerLen > buffer.byteLength) bad(`header length ${headerLen} runs past the end of the file (${buffer.byteLength} bytes): truncated?`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(8, 8 + headerLen));
  } catch {
    bad('header is not valid UTF-8');
  }
  const problem = scanHeader(text);
  if (problem) bad(`header: ${problem}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    bad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buffer.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  // no prototype: a key such as "constructor" is data, never an inherited function
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const ranges: Array<[number, number, string]> = [];
  const described: Array<readonly [string, SafeDType, readonly number[], number, number]> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        bad(`__metadata__ must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`__metadata__ must map strings to strings: "${k}" is ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(`tensor "${name}": entry is not an object`);
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype;
    if (!isDType(dtype)) bad(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`tensor "${name}": bad shape ${JSON.stringify(shape)}`);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(`tensor "${name}": bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const dims = shape as number[];
    const numel = dims.reduce((p, d) => p * d, 1);
    const expected = numel * BYTES[dtype as SafeDType];
    if (!Number.isSafeInteger(expected)) bad(`tensor "${name}": shape [${dims.join(',')}] is too large`);
    if (end < begin || end - begin !== expected) {
      bad(`tensor "${name}": data_offsets [${begin},${end}] hold ${end - begin} bytes, ${dtype} [${dims.join(',')}] needs ${expected}`);
    }
    if (end > dataLen) bad(`tensor "${name}": data ends at ${end}, past the ${dataLen} data bytes: truncated?`);
    ranges.push([begin, end, name]);
    described.push([name, dtype as SafeDType, dims, begin, end]);
    tensors.set(name, {
      name,
      dtype: dtype as SafeDType,
      shape: dims,
      bytes: buffer.subarray(dataStart + begin, dataStart + end),
      ...(source !== undefined ? { source } : {}),
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
  const sums = metadata[CHECKSUM_METADATA_KEY];
  if (sums !== undefined) verifyChecksums(sums, metadata, tensors, described, bad);
  else if (options.requireChecksums)
    bad(`__metadata__ has no "${CHECKSUM_METADATA_KEY}" checksums, which this kind of file always carries: the header is damaged`);
  return { tensors, metadata };
}

function verifyChecksums(
  text: string,
  metadata: Readonly<Record<string, string>>,
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  described: ReadonlyArray<readonly [string, SafeDType, readonly number[], number, number]>,
  bad: (reason: string) => never,
): void {
  let sums: unknown;
  try {
    sums = JSON.parse(text);
  } catch {
    bad(`__metadata__ "${CHECKSUM_METADATA_KEY}" is not JSON`);
  }
  if (typeof sums !== 'object' || sums === null || Array.isArray(sums)) bad(`__metadata__ "${CHECKSUM_METADATA_KEY}" is not a JSON object`);
  const table = sums as Record<string, unknown>;
  const stored = (key: string): string => {
    const v = Object.hasOwn(table, key) ? table[key] : undefined;
    if (typeof v !== 'string' || !/^[0-9a-f]{8}$/.test(v))
      bad(`__metadata__ "${CHECKSUM_METADATA_KEY}" has no checksum for ${key === HEADER_CHECKSUM ? 'the header' : `tensor "${key}"`}`);
    return v as string;
  };
  for (const key of Object.keys(table)) {
    if (key !== HEADER_CHECKSUM && !tensors.has(key))
      bad(`__metadata__ "${CHECKSUM_METADATA_KEY}" names tensor "${key}", which the file does not hold: the header is corrupt`);
  }
  const header = headerDigest(metadata, described);
  if (stored(HEADER_CHECKSUM) !== header)
    bad(`the header does not match its checksum (stored ${stored(HEADER_CHECKSUM)}, computed ${header}): the file is corrupt`);
  for (const [name, entry] of tensors) {
    const want = stored(name);
    const got = crc32Hex(entry.bytes);
    if (want !== got) bad(`tensor "${name}": its data does not match its checksum (stored ${want}, computed ${got}): the file is corrupt`);
  }
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
      case 'F64':
        out[i] = dv.getFloat64(8 * i, true);
        break;
      case 'F32':
        out[i] = dv.getFloat32(4 * i, true);
        break;
      case 'F16':
        out[i] = halfToFloat(dv.getUint16(2 * i, true));
        break;
      case 'BF16':
        out[i] = bf16ToFloat(dv.getUint16(2 * i, true));
        break;
      case 'I64': {
        const v = dv.getBigInt64(8 * i, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new SafetensorsError(`tensor "${entry.name}": I64 value ${v} does not fit a double`, entry.source);
        }
        out[i] = Number(v);
        break;
      }
      case 'I32':
        out[i] = dv.getInt32(4 * i, true);
        break;
      case 'I16':
        out[i] = dv.getInt16(2 * i, true);
        break;
      case 'I8':
        out[i] = dv.getInt8(i);
        break;
      case 'U8':
      case 'BOOL':
        out[i] = dv.getUint8(i);
        break;
    }
  }
  return out;
}

export function entryToTensor(entry: SafetensorsEntry): TensorData {
  switch (entry.dtype) {
    case 'I64':
    case 'I32':
    case 'I16':
    case 'I8':
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

export interface EncodeOptions {
  /**
   * Store a CRC-32 of every tensor and of the header in `__metadata__` (CHECKSUM_METADATA_KEY), so
   * that a corrupt file is refused naming the tensor. For this project's own files (checkpoints,
   * models); other safetensors readers ignore the key.
   */
  readonly checksums?: boolean;
}

export function encodeSafetensors(
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
  options: EncodeOptions = {},
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const entries: Record<string, { dtype: SafeDType; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error('safetensors: "__metadata__" cannot name a tensor');
    const t = tensors[name]!;
    const dtype = t.dtype ?? 'F32';
    if (!isDType(dtype)) throw new Error(`safetensors: "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (numel !== t.data.length) throw new Error(`safetensors: "${name}" has ${t.data.length} values for shape [${t.shape.join(',')}]`);
    const len = numel * BYTES[dtype];
    entries[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  const data = new Uint8Array(offset);
  const dv = new DataView(data.buffer);
  let at = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const dtype = t.dtype ?? 'F32';
    const n = t.data.length;
    for (let i = 0; i < n; i++) {
      const v = t.data[i]!;
      switch (dtype) {
        case 'F64':
          dv.setFloat64(at, v, true);
          break;
        case 'F32':
          dv.setFloat32(at, v, true);
          break;
        case 'F16':
          dv.setUint16(at, floatToHalf(v), true);
          break;
        case 'BF16':
          dv.setUint16(at, floatToBf16(v), true);
          break;
        case 'I64':
          dv.setBigInt64(at, BigInt(Math.trunc(v)), true);
          break;
        case 'I32':
          dv.setInt32(at, v, true);
          break;
        case 'I16':
          dv.setInt16(at, v, true);
          break;
        case 'I8':
          dv.setInt8(at, v);
          break;
        case 'U8':
        case 'BOOL':
          dv.setUint8(at, v);
          break;
      }
      at += BYTES[dtype];
    }
  }
  const meta: Record<string, string> = { ...metadata };
  delete meta[CHECKSUM_METADATA_KEY];
  if (options.checksums) {
    const sums: Record<string, string> = {};
    const described = names.map((name) => {
      const e = entries[name]!;
      sums[name] = crc32Hex(data.subarray(e.data_offsets[0], e.data_offsets[1]));
      return [name, e.dtype, e.shape, e.data_offsets[0], e.data_offsets[1]] as const;
    });
    meta[CHECKSUM_METADATA_KEY] = JSON.stringify({ [HEADER_CHECKSUM]: headerDigest(meta, described), ...sums });
  }
  const header: Record<string, unknown> = {};
  if (Object.keys(meta).length > 0) header['__metadata__'] = meta;
  for (const name of names) header[name] = entries[name];
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  // Pad with spaces so the data starts 8-byte aligned (as the reference implementation does).
  while ((8 + enc.encode(json).byteLength) % 8 !== 0) json += ' ';
  const headerBytes = enc.encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.byteLength);
  return out;
}
