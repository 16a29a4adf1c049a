/**
 * float32 <-> order-preserving uint32 keys. Sorting and bucketing keys as unsigned integers is exact:
 * two scores tie exactly when their keys are equal (-0 is folded into +0 first, as numpy compares them
 * equal), so radix bucketing never merges or splits distinct scores.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits with exponent all ones: Infinity or NaN. */
export const NON_FINITE_EXPONENT = 0x7f800000;

/** Key of raw float32 bits. The caller folds -0 (0x80000000) to 0 and rejects non-finite values. */
export function bitsToKey(bits: number): number {
  return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

export function keyToBits(key: number): number {
  return (key & 0x80000000) !== 0 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0;
}

/** The float32 value (as a double) a key stands for. */
export function keyToFloat(key: number): number {
  scratchU32[0] = keyToBits(key);
  return scratchF32[0]!;
}

/** Key of a float32 value (the number is rounded to float32 first). */
export function floatToKey(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0]!;
  return bitsToKey(bits === 0x80000000 ? 0 : bits);
}

/** A uint32 view of a Float32Array's bits (no copy). */
export function float32Bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}
