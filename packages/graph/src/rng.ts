/**
 * Seeded, serialisable randomness (xoshiro128**). Everything random in UniAS.ts — initialisation,
 * shuffling, dropout masks, feature jitter — draws from here (masks and jitter through
 * rng-lanes.ts, seeded from an Rng), outside the backends, so both see the same numbers and a
 * checkpoint can store the exact state.
 */

import { xoshiroStep } from './xoshiro.js';
import { ZIGGURAT, zigguratEdge } from './ziggurat.js';

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
  /**
   * Normals by the ziggurat method (Marsaglia & Tsang, 2000): about 5x faster than fillNormal and
   * exact in distribution, but a different stream (one word per value mostly, more now and then).
   * Initialisation and datasets keep normal()'s numbers; a training step's noise comes from
   * rng-lanes.ts's fillNormalLanes, the same method in WebAssembly SIMD.
   */
  fillNormalFast(out: Float32Array, mean?: number, std?: number): Float32Array;
  /**
   * `hit` with probability p (to within 2^-40), `miss` otherwise: for dropout masks, four values
   * per word, one byte each, lowest first. A byte below floor(256p) is a hit, above it a miss; a
   * byte equal to it (1 in 256) draws the next whole word w and hits when w / 2^32 < frac(256p).
   * A different stream from `uniform() < p` (which a one-element gate still uses).
   */
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

/**
 * The pair table of fillBernoulli: entry v holds, as one float64, the two float32 values of the
 * bytes v & 255 (first) and v >> 8. Shared and rebuilt only when (tie, hit, miss) change: a
 * training step fills dozens of masks with the same p, and a rebuild costs ~0.2 ms.
 */
let pairTable: { tie: number; hit: number; miss: number; table: Float64Array } | undefined;

function bernoulliPairTable(tie: number, hit: number, miss: number): Float64Array {
  if (pairTable && pairTable.tie === tie && Object.is(pairTable.hit, hit) && Object.is(pairTable.miss, miss)) return pairTable.table;
  const table = pairTable?.table ?? new Float64Array(65536);
  const pair = new Float32Array(2);
  const bits = new Float64Array(pair.buffer);
  for (let v = 0; v < 65536; v++) {
    pair[0] = (v & 255) < tie ? hit : miss;
    pair[1] = v >>> 8 < tie ? hit : miss;
    table[v] = bits[0]!;
  }
  pairTable = { tie, hit, miss, table };
  return table;
}

/** Words drawn per block by the fills. */
const BLOCK = 4096;

class Xoshiro implements Rng {
  /** The four state words, signed (int32 arithmetic needs no conversions, and nothing is boxed). */
  private readonly s: Int32Array;
  private spare: number | null;
  private block = new Uint32Array(0);
  private readonly bernoulliTable = new Float32Array(256);

  constructor(state: RngState) {
    this.s = Int32Array.from(state.s);
    this.spare = state.spare;
  }

  /** The next 32-bit word (zigguratEdge's WordSource; not part of the Rng interface). */
  nextWord(): number {
    return this.next();
  }

  private next(): number {
    return xoshiroStep(this.s, 0, 1) >>> 0;
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
    let s0 = this.s[0]!;
    let s1 = this.s[1]!;
    let s2 = this.s[2]!;
    let s3 = this.s[3]!;
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
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
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

  // The hottest fill (dropout masks: tens of millions of values per training step). A byte per
  // value, and two values per table read: a 65536-entry table maps each half word to the pair of
  // floats it gives, stored as one float64 (0.77 against 1.15 ns per value for a 256-entry table
  // and four float32 stores, 2.8 for a word per value). One test finds a tie byte in the word. The
  // generator runs in this loop (a call per word costs 25%); a tie writes the state back and
  // draws through next(). An array not 8-byte aligned takes the byte-table loop.
  fillBernoulli(out: Float32Array, p: number, hit = 1, miss = 0): Float32Array {
    if (!(p >= 0 && p <= 1)) throw new Error(`fillBernoulli: p must be in [0, 1], got ${p}`);
    const scaled = p * 256;
    const tie = Math.floor(scaled); // 256 when p = 1: no byte ties
    const tieThreshold = (scaled - tie) * 4294967296;
    const n = out.length;
    const whole = n - (n & 3);
    // a NaN value could come back from a float64 read as another NaN: those take the byte loop too
    if ((out.byteOffset & 7) === 0 && !Number.isNaN(hit) && !Number.isNaN(miss)) this.bernoulliPairs(out, whole, tie, tieThreshold, hit, miss);
    else this.bernoulliBytes(out, whole, tie, tieThreshold, hit, miss);
    if (whole < n) {
      // the last word: its unused bytes are dropped
      const w = this.next();
      for (let k = 0; k < n - whole; k++) out[whole + k] = ((w >>> (8 * k)) & 255) < tie ? hit : miss;
      this.breakTies(out, whole, n - whole, w, tie, tieThreshold, hit, miss);
    }
    return out;
  }

  /** out[0, whole) from whole / 4 words, through the pair table. */
  private bernoulliPairs(out: Float32Array, whole: number, tie: number, tieThreshold: number, hit: number, miss: number): void {
    const pairs = bernoulliPairTable(tie, hit, miss);
    const o = new Float64Array(out.buffer, out.byteOffset, whole >> 1);
    // a word holds a tie byte when w ^ tie4 has a zero byte (the classic has-zero-byte test)
    const tie4 = tie < 256 ? Math.imul(tie, 0x01010101) : -1;
    const s = this.s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    for (let j = 0, m2 = whole >> 1; j < m2; j += 2) {
      const m = Math.imul(s1, 5);
      const w = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      o[j] = pairs[w & 65535]!;
      o[j + 1] = pairs[w >>> 16]!;
      const x = w ^ tie4;
      if (((x - 0x01010101) & ~x & 0x80808080) !== 0) {
        s[0] = s0;
        s[1] = s1;
        s[2] = s2;
        s[3] = s3;
        this.breakTies(out, 2 * j, 4, w, tie, tieThreshold, hit, miss);
        s0 = s[0]!;
        s1 = s[1]!;
        s2 = s[2]!;
        s3 = s[3]!;
      }
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** out[0, whole) from whole / 4 words, a byte-table read and a float32 store per value. */
  private bernoulliBytes(out: Float32Array, whole: number, tie: number, tieThreshold: number, hit: number, miss: number): void {
    const table = this.bernoulliTable;
    for (let b = 0; b < 256; b++) table[b] = b < tie ? hit : miss;
    const s = this.s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    for (let i = 0; i < whole; i += 4) {
      const m = Math.imul(s1, 5);
      const w = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const b0 = w & 255;
      const b1 = (w >>> 8) & 255;
      const b2 = (w >>> 16) & 255;
      const b3 = w >>> 24;
      out[i] = table[b0]!;
      out[i + 1] = table[b1]!;
      out[i + 2] = table[b2]!;
      out[i + 3] = table[b3]!;
      if (b0 === tie || b1 === tie || b2 === tie || b3 === tie) {
        s[0] = s0;
        s[1] = s1;
        s[2] = s2;
        s[3] = s3;
        this.breakTies(out, i, 4, w, tie, tieThreshold, hit, miss);
        s0 = s[0]!;
        s1 = s[1]!;
        s2 = s[2]!;
        s3 = s[3]!;
      }
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** Redraws out[i + k] for each of the word's first `count` bytes that equals `tie`, in byte order. */
  private breakTies(out: Float32Array, i: number, count: number, word: number, tie: number, tieThreshold: number, hit: number, miss: number): void {
    for (let k = 0; k < count; k++) if (((word >>> (8 * k)) & 255) === tie) out[i + k] = this.next() < tieThreshold ? hit : miss;
  }

  fillNormalFast(out: Float32Array, mean = 0, std = 1): Float32Array {
    const { kn, wn } = ZIGGURAT;
    let s0 = this.s[0]!;
    let s1 = this.s[1]!;
    let s2 = this.s[2]!;
    let s3 = this.s[3]!;
    for (let i = 0, n = out.length; i < n; i++) {
      const m = Math.imul(s1, 5);
      const hz = Math.imul((m << 7) | (m >>> 25), 9); // signed: its sign is the value's
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const iz = hz & 127;
      if (Math.abs(hz) < kn[iz]!) {
        out[i] = mean + std * (hz * wn[iz]!);
      } else {
        // about 1 value in 80: the wedges and the tail draw more words, through the state on this
        this.s[0] = s0;
        this.s[1] = s1;
        this.s[2] = s2;
        this.s[3] = s3;
        out[i] = mean + std * zigguratEdge(this, hz, iz);
        s0 = this.s[0]!;
        s1 = this.s[1]!;
        s2 = this.s[2]!;
        s3 = this.s[3]!;
      }
    }
    this.s[0] = s0;
    this.s[1] = s1;
    this.s[2] = s2;
    this.s[3] = s3;
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

  fork(label: string): Rng {
    return createRng(hashString(label, this.s[0]! ^ rotl(this.s[3]!, 13)));
  }

  state(): RngState {
    return { s: [this.s[0]! >>> 0, this.s[1]! >>> 0, this.s[2]! >>> 0, this.s[3]! >>> 0], spare: this.spare };
  }
}

export function createRng(seed: number | RngState): Rng {
  if (typeof seed !== 'number') return new Xoshiro(seed);
  const sm = splitmix32(seed);
  return new Xoshiro({ s: [sm(), sm(), sm(), sm()], spare: null });
}
