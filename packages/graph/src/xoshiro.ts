/**
 * One step of xoshiro128** on a generator whose four state words sit in `s` at `at`,
 * `at + stride`, `at + 2 * stride`, `at + 3 * stride` (stride 1: rng.ts's generator and the lane
 * kernel's scalar one; stride 4: one lane of the TypeScript lane kernel, rng-lanes.ts). Returns the
 * output word, signed.
 */
export function xoshiroStep(s: Int32Array, at: number, stride: number): number {
  const s0 = s[at]!;
  const s1 = s[at + stride]!;
  const m = Math.imul(s1, 5);
  const s2 = s[at + 2 * stride]! ^ s0;
  const s3 = s[at + 3 * stride]! ^ s1;
  s[at] = s0 ^ s3;
  s[at + stride] = s1 ^ s2;
  s[at + 2 * stride] = s2 ^ (s1 << 9);
  s[at + 3 * stride] = (s3 << 11) | (s3 >>> 21);
  return Math.imul((m << 7) | (m >>> 25), 9);
}
