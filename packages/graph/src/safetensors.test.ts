import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, entryToFloat32, entryToNumbers } from './safetensors.js';
import { floatToHalf, halfToFloat, floatToBf16, bf16ToFloat } from './half.js';

describe('safetensors', () => {
  it('round-trips F32, F16, BF16, I64 and U8 with metadata', () => {
    const bytes = encodeSafetensors(
      {
        a: { shape: [2, 3], data: [1, -2, 3.5, 0, 1e-3, 65504] },
        h: { shape: [3], data: [1, 0.333251953125, -2], dtype: 'F16' },
        b: { shape: [2], data: [1.5, -3], dtype: 'BF16' },
        i: { shape: [2], data: [-7, 9_000_000_000], dtype: 'I64' },
        m: { shape: [4], data: [0, 1, 1, 0], dtype: 'U8' },
      },
      { made: 'test' },
    );
    // data begins 8-byte aligned
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const f = decodeSafetensors(bytes);
    expect(f.metadata).toEqual({ made: 'test' });
    expect(Array.from(entryToFloat32(f.tensors.get('a')!))).toEqual(Array.from(Float32Array.from([1, -2, 3.5, 0, 1e-3, 65504])));
    expect(Array.from(entryToFloat32(f.tensors.get('h')!))).toEqual([1, 0.333251953125, -2]);
    expect(Array.from(entryToFloat32(f.tensors.get('b')!))).toEqual([1.5, -3]);
    expect(Array.from(entryToNumbers(f.tensors.get('i')!))).toEqual([-7, 9_000_000_000]);
    expect(Array.from(entryToNumbers(f.tensors.get('m')!))).toEqual([0, 1, 1, 0]);
  });

  it('refuses corrupt files with the reason', () => {
    const good = encodeSafetensors({ a: { shape: [4], data: [1, 2, 3, 4] } });
    expect(() => decodeSafetensors(good.subarray(0, 5), 'x.safetensors')).toThrow(/x\.safetensors.*shorter than the 8-byte/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4))).toThrow(/past the .* data bytes: truncated/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => decodeSafetensors(extra)).toThrow(/4 trailing bytes/);
    const badJson = Uint8Array.from(good);
    badJson[9] = 0x7b; // '{' inside the JSON object breaks it
    expect(() => decodeSafetensors(badJson)).toThrow(/not valid UTF-8 JSON/);
    const hdr = (h: unknown) => {
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + 16);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    expect(() => decodeSafetensors(hdr({ a: { dtype: 'Q4', shape: [4], data_offsets: [0, 16] } }))).toThrow(/unsupported dtype "Q4"/);
    expect(() => decodeSafetensors(hdr({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }))).toThrow(/needs 12/);
    expect(() =>
      decodeSafetensors(hdr({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] }, c: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } })),
    ).toThrow(/overlaps/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/exceeds/);
  });
});

describe('half precision', () => {
  it('converts exactly representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -1, 0.5, 65504, 2 ** -24, 2 ** -14, -0.333251953125]) expect(halfToFloat(floatToHalf(v))).toBe(v);
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1);
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 * 2 ** -10);
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    expect(bf16ToFloat(floatToBf16(1.5))).toBe(1.5);
    expect(bf16ToFloat(floatToBf16(1 + 2 ** -8))).toBe(1); // tie to even
  });
});
