import { describe, expect, it } from 'vitest';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { CHECKSUM_METADATA_KEY, decodeSafetensors, encodeSafetensors, entryToFloat32, entryToNumbers } from './safetensors.js';
import { crc32, crc32Hex } from './crc32.js';
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
      decodeSafetensors(
        hdr({
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          c: { dtype: 'F32', shape: [1], data_offsets: [12, 16] },
        }),
      ),
    ).toThrow(/overlaps/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/exceeds/);
  });
});

/** A file with this header text (verbatim, so that duplicate keys survive) and `data` zero bytes. */
function rawFile(headerText: string, data = 16): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors header findings', () => {
  const t = (name: string, dtype = 'F32', shape: unknown = [4], offsets: unknown = [0, 16]) =>
    `"${name}":${JSON.stringify({ dtype, shape, data_offsets: offsets })}`;

  it('refuses duplicate keys (JSON.parse would keep the last silently)', () => {
    expect(() => decodeSafetensors(rawFile(`{${t('a')},${t('a')}}`), 'd.safetensors')).toThrow(/d\.safetensors.*duplicate key "a"/);
    // the same name spelled with an escape is the same key
    expect(() => decodeSafetensors(rawFile(`{${t('a')},"\\u0061":${JSON.stringify({ dtype: 'F32', shape: [4], data_offsets: [0, 16] })}}`))).toThrow(
      /duplicate key "a"/,
    );
    expect(() => decodeSafetensors(rawFile(`{"__metadata__":{"k":"1","k":"2"},${t('a')}}`))).toThrow(/duplicate key "k" in a nested object/);
    expect(() => decodeSafetensors(rawFile(`{${t('a')},"__metadata__":{},"__metadata__":{}}`))).toThrow(/duplicate key "__metadata__"/);
    // a key-like string as a value is not a key
    expect(decodeSafetensors(rawFile(`{"__metadata__":{"x":"a","y":"a"},${t('a')}}`)).metadata).toEqual({ x: 'a', y: 'a' });
  });

  it('looks dtypes up as own keys only', () => {
    for (const dtype of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => decodeSafetensors(rawFile(`{${t('a', dtype)}}`))).toThrow(new RegExp(`tensor "a": unsupported dtype "${dtype}"`));
      expect(() => encodeSafetensors({ a: { shape: [1], data: [1], dtype: dtype as 'F32' } })).toThrow(/unsupported dtype/);
    }
  });

  it('takes only safe integers as dims and offsets', () => {
    expect(() => decodeSafetensors(rawFile(`{${t('a', 'F32', [1e300])}}`))).toThrow(/tensor "a": bad shape \[1e\+300\]/);
    expect(() => decodeSafetensors(rawFile(`{${t('a', 'F32', [2 ** 53])}}`))).toThrow(/bad shape/);
    expect(() => decodeSafetensors(rawFile(`{${t('a', 'F32', [4], [0, 2 ** 53 + 16])}}`))).toThrow(/bad data_offsets/);
    // each dim safe, the product not
    expect(() => decodeSafetensors(rawFile(`{${t('a', 'F32', [2 ** 30, 2 ** 30, 2 ** 30])}}`))).toThrow(/tensor "a": shape .* is too large/);
  });

  it('requires __metadata__ to be an object of strings', () => {
    expect(() => decodeSafetensors(rawFile(`{"__metadata__":["x"],${t('a')}}`))).toThrow(/__metadata__ must be a JSON object, got an array/);
    expect(() => decodeSafetensors(rawFile(`{"__metadata__":"x",${t('a')}}`))).toThrow(/__metadata__ must be a JSON object/);
    expect(() => decodeSafetensors(rawFile(`{"__metadata__":{"n":1},${t('a')}}`))).toThrow(/"n" is 1/);
    // inherited names are not metadata
    const f = decodeSafetensors(rawFile(`{"__metadata__":{"__proto__":"p"},${t('a')}}`));
    expect(f.metadata['__proto__']).toBe('p');
    expect(f.metadata['constructor']).toBeUndefined();
  });

  it('refuses deeply nested headers before parsing them', () => {
    const deep = `{"__metadata__":{"k":"v"},"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    expect(() => decodeSafetensors(rawFile(deep))).toThrow(/nested deeper than 8 levels/);
  });
});

describe('safetensors checksums', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32Hex(new TextEncoder().encode('123456789'))).toBe('cbf43926'); // the check value of CRC-32/ISO-HDLC
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  });

  const file = () =>
    encodeSafetensors({ w: { shape: [4], data: [1, 2, 3, 4] }, b: { shape: [2], data: [5, 6] } }, { format: 'x', step: '12' }, { checksums: true });

  it('round-trips and hides nothing', () => {
    const f = decodeSafetensors(file());
    expect(Array.from(entryToFloat32(f.tensors.get('w')!))).toEqual([1, 2, 3, 4]);
    expect(f.metadata['format']).toBe('x');
    expect(JSON.parse(f.metadata[CHECKSUM_METADATA_KEY]!)).toHaveProperty('w');
  });

  it('refuses a flipped data byte naming the file and the tensor', () => {
    const bytes = file();
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    // tensors are laid out by sorted name: b (8 bytes), then w
    const w = Uint8Array.from(bytes);
    w[dataStart + 8 + 5]! ^= 0x01;
    expect(() => decodeSafetensors(w, 'ck.safetensors')).toThrow(/ck\.safetensors: .*tensor "w": its data does not match its checksum .*corrupt/);
    const b = Uint8Array.from(bytes);
    b[dataStart]! ^= 0x80;
    expect(() => decodeSafetensors(b, 'ck.safetensors')).toThrow(/tensor "b": its data does not match/);
  });

  /** Replaces text in the file's bytes with text of the same length (latin1 keeps every byte). */
  const patch = (bytes: Uint8Array, from: string, to: string): Uint8Array => {
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).toContain(from);
    return new Uint8Array(Buffer.from(text.replace(from, to), 'latin1'));
  };

  it('refuses an edited header value that still parses', () => {
    const edited = patch(file(), '"step":"12"', '"step":"13"');
    expect(() => decodeSafetensors(edited, 'ck.safetensors')).toThrow(/ck\.safetensors: .*the header does not match its checksum/);
  });

  it('refuses a checksum table that misses a tensor', () => {
    const bytes = file();
    const sums = JSON.parse(decodeSafetensors(bytes).metadata[CHECKSUM_METADATA_KEY]!) as Record<string, string>;
    expect(Object.keys(sums).sort()).toEqual(['__header__', 'b', 'w']);
    const renamed = patch(bytes, `\\"w\\":\\"${sums['w']}\\"`, `\\"v\\":\\"${sums['w']}\\"`);
    expect(() => decodeSafetensors(renamed)).toThrow(/names tensor "v", which the file does not hold/);
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
