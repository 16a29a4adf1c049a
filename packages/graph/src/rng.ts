/**
 * Seeded, serialisable randomness (xoshiro128**). Everything random in UniAS.ts — initialisation,
 * shuffling, dropout masks, feature jitter — draws from here, in JS, so both backends see the same
 * numbers and a checkpoint can store the exact state.
 */

export interface RngState {
  readonly s: readonly [number, number, number, number];
  /** Second Box-Muller value waiting to be used, or null. */
  readonly spare: number | null;
}

export interface Rng {
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Fisher-Yates in place; returns the array. */
  shuffle<T>(items: T[]): T[];
  fillUniform(out: Float32Array, low?: number, high?: number): Float32Array;
  fillNormal(out: Float32Array, mean?: number, std?: number): Float32Array;
  /** Advances the state exactly as fillNormal of n values would, without computing them. */
  skipNormals(n: number): void;
  /** `hit` where uniform() < p, `miss` elsewhere: the draws of `uniform() < p ? hit : miss` in a loop. */
  fillBernoulli(out: Float32Array, p: number, hit?: number, miss?: number): Float32Array;
  /** An independent stream derived from this one's seed material and a label. */
  fork(label: string): Rng;
  state(): RngState;
}

/** 32-bit FNV-1a of a string, mixed with a seed: stable stream ids for names. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Words drawn per block by the fills. */
const BLOCK = 4096;

class Xoshiro implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null;
  private block = new Uint32Array(0);

  constructor(state: RngState) {
    [this.s0, this.s1, this.s2, this.s3] = state.s;
    this.spare = state.spare;
  }

  private next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  uniform(): number {
    return this.next() / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    // 1 - u keeps log() away from 0.
    const u1 = 1 - this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  // The fills give exactly the numbers of the one-at-a-time methods, in the same order, but draw
  // raw words a block at a time with the state in locals: a training step draws tens of millions
  // of numbers (dropout masks, feature noise), and per-call state on `this` was 7x slower.
  private words(n: number): Uint32Array {
    const out = this.block.length >= n ? this.block : (this.block = new Uint32Array(n));
    let s0 = this.s0 | 0;
    let s1 = this.s1 | 0;
    let s2 = this.s2 | 0;
    let s3 = this.s3 | 0;
    for (let i = 0; i < n; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    return out;
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length;) {
      const n = Math.min(BLOCK, out.length - i);
      const w = this.words(n);
      for (let j = 0; j < n; j++) out[i++] = low + (high - low) * (w[j]! / 4294967296);
    }
    return out;
  }

  fillBernoulli(out: Float32Array, p: number, hit = 1, miss = 0): Float32Array {
    for (let i = 0; i < out.length;) {
      const n = Math.min(BLOCK, out.length - i);
      const w = this.words(n);
      for (let j = 0; j < n; j++) out[i++] = w[j]! / 4294967296 < p ? hit : miss;
    }
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    let i = 0;
    if (this.spare !== null && out.length > 0) {
      out[i++] = mean + std * this.spare;
      this.spare = null;
    }
    while (i < out.length) {
      // two words per Box-Muller pair, as normal() draws them
      const pairs = Math.min(BLOCK / 2, Math.ceil((out.length - i) / 2));
      const w = this.words(2 * pairs);
      for (let j = 0; j < 2 * pairs; j += 2) {
        const u1 = 1 - w[j]! / 4294967296;
        const u2 = w[j + 1]! / 4294967296;
        const r = Math.sqrt(-2 * Math.log(u1));
        out[i++] = mean + std * (r * Math.cos(2 * Math.PI * u2));
        const second = r * Math.sin(2 * Math.PI * u2);
        if (i < out.length) out[i++] = mean + std * second;
        else this.spare = second;
      }
    }
    return out;
  }

  skipNormals(n: number): void {
    let left = n;
    if (this.spare !== null && left > 0) {
      this.spare = null;
      left--;
    }
    // whole pairs: their words only
    for (let done = 0, pairs = Math.floor(left / 2); done < pairs;) {
      const k = Math.min(BLOCK / 2, pairs - done);
      this.words(2 * k);
      done += k;
    }
    // an odd count leaves the last pair's second value as the spare: compute that pair only
    if (left % 2 === 1) this.fillNormal(new Float32Array(1));
  }

  fork(label: string): Rng {
    return createRng(hashString(label, this.s0 ^ rotl(this.s3, 13)));
  }

  state(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }
}

export function createRng(seed: number | RngState): Rng {
  if (typeof seed !== 'number') return new Xoshiro(seed);
  const sm = splitmix32(seed);
  return new Xoshiro({ s: [sm(), sm(), sm(), sm()], spare: null });
}
