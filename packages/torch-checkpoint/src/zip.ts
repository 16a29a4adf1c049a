/**
 * The zip container of `torch.save` (PyTorch >= 1.6): read through the central directory, entries
 * STORED (what PyTorch writes) or DEFLATE (a checkpoint re-zipped by another tool), ZIP64 sizes and
 * offsets, every entry's CRC-32 checked when it is read. Enough for checkpoints, not a general unzipper:
 * multi-disk archives and encryption are refused.
 */
import { inflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.js';
import { failer } from './errors.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The entry's bytes (a view of the file when STORED), CRC-checked. */
  read(name: string): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

/** True when the bytes start like a zip file (a local header or an empty archive's end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

export function readZip(bytes: Uint8Array, source: string): ZipArchive {
  const bad = failer(source);
  const zipBad = (reason: string): never => bad(`not a readable zip checkpoint: ${reason}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number): number => view.getUint16(at, true);
  const u32 = (at: number): number => view.getUint32(at, true);
  const u64 = (at: number, field: string): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) zipBad(`${field} ${v} is too large`);
    return Number(v);
  };
  const need = (at: number, len: number, what: string): void => {
    if (at < 0 || at + len > bytes.length) zipBad(`${what} at byte ${at} runs past the end of the file (${bytes.length} bytes): truncated?`);
  };

  // The end-of-central-directory record: the last signature within the largest possible comment.
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - MAX_COMMENT); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) zipBad('no end-of-central-directory record (truncated, or not a zip file)');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) zipBad('multi-disk archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || u32(locator) !== ZIP64_LOCATOR) zipBad('ZIP64 sizes without a ZIP64 end-of-central-directory locator');
    const z = u64(locator + 8, 'ZIP64 end record offset');
    need(z, 56, 'the ZIP64 end-of-central-directory record');
    if (u32(z) !== ZIP64_EOCD) zipBad(`no ZIP64 end-of-central-directory record at byte ${z}`);
    count = u64(z + 32, 'entry count');
    cdSize = u64(z + 40, 'central directory size');
    cdOffset = u64(z + 48, 'central directory offset');
  }
  need(cdOffset, cdSize, 'the central directory');

  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    need(at, 46, `central directory entry ${i}`);
    if (u32(at) !== CENTRAL) zipBad(`central directory entry ${i} at byte ${at} has a bad signature`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const crc = u32(at + 16);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    const nameLen = u16(at + 28);
    const extraLen = u16(at + 30);
    const commentLen = u16(at + 32);
    let localHeaderOffset = u32(at + 42);
    need(at + 46, nameLen + extraLen + commentLen, `central directory entry ${i}'s name and extra fields`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    if (flags & 1) zipBad(`entry "${name}" is encrypted`);
    // ZIP64 extra field: 64-bit values for the fields that hold 0xffffffff, in this order.
    let e = at + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(e);
      const len = u16(e + 2);
      if (e + 4 + len > extraEnd) zipBad(`entry "${name}": extra field runs past its end`);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (field: string): number => {
          if (p + 8 > e + 4 + len) zipBad(`entry "${name}": ZIP64 extra field too short for the ${field}`);
          const v = u64(p, `entry "${name}" ${field}`);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
      }
      e += 4 + len;
    }
    if (entries.has(name)) zipBad(`entry "${name}" appears twice`);
    entries.set(name, { name, method, crc, compressedSize, size, localHeaderOffset });
    at = extraEnd + commentLen;
  }

  function read(name: string): Uint8Array {
    const entry = entries.get(name);
    if (!entry) return zipBad(`no entry "${name}"`);
    const h = entry.localHeaderOffset;
    need(h, 30, `entry "${name}"'s local header`);
    if (u32(h) !== LOCAL) zipBad(`entry "${name}": bad local header signature at byte ${h}`);
    const start = h + 30 + u16(h + 26) + u16(h + 28);
    need(start, entry.compressedSize, `entry "${name}"'s data`);
    const raw = bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) zipBad(`stored entry "${name}" has compressed size ${entry.compressedSize} but size ${entry.size}`);
      data = raw;
    } else if (entry.method === 8) {
      try {
        // maxOutputLength bounds the memory a lying size field can claim.
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
        data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      } catch (err) {
        return zipBad(`entry "${name}": DEFLATE data is corrupt (${(err as Error).message})`);
      }
      if (data.length !== entry.size) zipBad(`entry "${name}" inflates to ${data.length} bytes, the directory says ${entry.size}`);
    } else {
      return zipBad(`entry "${name}" uses compression method ${entry.method} (only STORED and DEFLATE are read)`);
    }
    const actual = crc32(data);
    if (actual !== entry.crc) zipBad(`entry "${name}" fails its CRC-32 check (stored ${hex(entry.crc)}, computed ${hex(actual)}): the file is corrupt`);
    return data;
  }

  return { entries, read };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
