/**
 * Test support, exported as `@unias/torch-checkpoint/testing`: writes a zip checkpoint the way
 * `torch.save` lays one out (protocol 2 pickle, one STORED entry per storage), so tests elsewhere can
 * make a `.pth` from tensors they already have. Contiguous tensors only; not a replacement for torch.
 * Checked once against torch 1.13's `torch.load` (see fixtures/PROVENANCE.md).
 */
import type { SafetensorsEntry } from '@unias/graph';
import { ELEMENT_SIZE, STORAGE_TYPES } from '../torch-globals.js';
import { writeStoredZip } from './stored-zip.js';
import type { TorchDType } from '../py-values.js';

/** A value to pickle: plain data, a tensor (a safetensors-shaped entry), or a dict (ordered when `Map`). */
export type CheckpointValue =
  | null
  | boolean
  | number
  | string
  | SafetensorsEntry
  | readonly CheckpointValue[]
  | ReadonlyMap<string, CheckpointValue>
  | { readonly [key: string]: CheckpointValue };

const STORAGE_OF: Record<TorchDType, string> = Object.fromEntries(Object.entries(STORAGE_TYPES).map(([name, { dtype }]) => [dtype, name])) as Record<
  TorchDType,
  string
>;

function isEntry(v: object): v is SafetensorsEntry {
  return 'dtype' in v && 'shape' in v && 'bytes' in v && (v as { bytes: unknown }).bytes instanceof Uint8Array;
}

class PickleWriter {
  private readonly parts: number[] = [];
  readonly storages: Uint8Array[] = [];
  private readonly enc = new TextEncoder();

  op(...bytes: number[]): void {
    for (const b of bytes) this.parts.push(b);
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.parts.push(x);
  }
  u32(n: number): void {
    this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  global(module: string, name: string): void {
    this.op(0x63);
    this.raw(this.enc.encode(`${module}\n${name}\n`));
  }
  str(s: string): void {
    const b = this.enc.encode(s);
    if (b.length < 256) this.op(0x8c, b.length);
    else {
      this.op(0x58);
      this.u32(b.length);
    }
    this.raw(b);
  }
  int(n: number): void {
    if (n >= 0 && n < 256) this.op(0x4b, n);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.op(0x4a);
      this.u32(n >>> 0);
    } else {
      // LONG1: little-endian two's complement, 8 bytes.
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
      this.op(0x8a, 8);
      this.raw(b);
    }
  }
  orderedDict(entries: Iterable<[string, CheckpointValue]>): void {
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // EMPTY_TUPLE REDUCE
    this.op(0x28); // MARK
    for (const [k, v] of entries) {
      this.str(k);
      this.value(v);
    }
    this.op(0x75); // SETITEMS
  }
  tensor(t: SafetensorsEntry): void {
    const key = String(this.storages.length);
    this.storages.push(t.bytes);
    const size = t.bytes.length / ELEMENT_SIZE[t.dtype];
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28); // MARK (the arguments tuple)
    this.op(0x28); // MARK (the persistent id)
    this.str('storage');
    this.global('torch', STORAGE_OF[t.dtype]);
    this.str(key);
    this.str('cpu');
    this.int(size);
    this.op(0x74, 0x51); // TUPLE BINPERSID
    this.int(0);
    this.op(0x28);
    for (const d of t.shape) this.int(d);
    this.op(0x74);
    this.op(0x28);
    let stride = 1;
    const strides: number[] = [];
    for (let i = t.shape.length - 1; i >= 0; i--) {
      strides.unshift(stride);
      stride *= t.shape[i]!;
    }
    for (const s of strides) this.int(s);
    this.op(0x74);
    this.op(0x89); // requires_grad False
    this.orderedDict([]); // backward hooks
    this.op(0x74, 0x52); // TUPLE REDUCE
  }
  value(v: CheckpointValue): void {
    if (v === null) this.op(0x4e);
    else if (typeof v === 'boolean') this.op(v ? 0x88 : 0x89);
    else if (typeof v === 'number') {
      if (Number.isInteger(v)) this.int(v);
      else {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v, false);
        this.op(0x47);
        this.raw(b);
      }
    } else if (typeof v === 'string') this.str(v);
    else if (Array.isArray(v)) {
      this.op(0x5d, 0x28);
      for (const x of v as readonly CheckpointValue[]) this.value(x);
      this.op(0x65);
    } else if (v instanceof Map) this.orderedDict(v.entries());
    else if (isEntry(v as object)) this.tensor(v as SafetensorsEntry);
    else {
      this.op(0x7d, 0x28); // EMPTY_DICT MARK
      for (const [k, x] of Object.entries(v as Record<string, CheckpointValue>)) {
        this.str(k);
        this.value(x);
      }
      this.op(0x75);
    }
  }
  finish(): Uint8Array {
    return Uint8Array.from([0x80, 2, ...this.parts, 0x2e]);
  }
}

/** A `torch.save`-style zip checkpoint of `value` (e.g. a Map of tensors, or { state_dict: Map, epoch: 3 }). */
export function writeTorchCheckpoint(value: CheckpointValue, archive = 'archive'): Uint8Array {
  const w = new PickleWriter();
  w.value(value);
  const pkl = w.finish();
  return writeStoredZip([
    [`${archive}/data.pkl`, pkl],
    ...w.storages.map((s, i) => [`${archive}/data/${i}`, s] as const),
    [`${archive}/version`, new TextEncoder().encode('3\n')],
  ]);
}
