/**
 * The random fills of a training step's noise (dropout masks, feature jitter): tens of millions of
 * values per step, drawn by four xoshiro128** generators side by side, one per lane of a 128-bit
 * vector, in WebAssembly SIMD (rng-lanes.wat), with a fifth, scalar one for the rare cases (a
 * dropout byte that ties with p, a normal outside the ziggurat's rectangles). A fill seeds all five
 * from 20 words of the caller's Rng, so the Rng's state fixes everything that follows: both
 * backends see the same numbers and a checkpoint resumes the same stream. The kernel has a plain
 * TypeScript twin with the same memory contract: it runs where WebAssembly SIMD is missing and is
 * the tests' reference (the two agree bit for bit).
 *
 * These are other streams than Rng.fillBernoulli and Rng.fillNormalFast (same distributions).
 */
import type { Rng } from './rng.js';
import { RNG_LANES_WASM } from './rng-lanes-wasm.js';
import { xoshiroStep } from './xoshiro.js';
import { ZIGGURAT, zigguratEdge } from './ziggurat.js';

// The parts of the WebAssembly JS API used here (this package's lib has no DOM types).
declare const WebAssembly:
  | {
      validate(bytes: Uint8Array): boolean;
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { exports: unknown };
    }
  | undefined;

/** Memory layout shared by both kernels (bytes; rng-lanes.wat's header). */
const KN = 64;
const WN = 1024;
const SCALAR = 2064;
const FN = 3072;
const OUT = 4096;
const MEMORY_BYTES = 4 * 65536;
/** Values per kernel call: the output area holds 16384 float32. */
const CHUNK = 16384;

export type LaneKernelKind = 'wasm' | 'ts';

/** One implementation of rng-lanes.wat's two functions over its memory layout. */
export interface LaneKernel {
  readonly kind: LaneKernelKind;
  readonly memory: ArrayBuffer;
  /** Fills 16 * vectors values at OUT, ties settled by the scalar generator (word < threshold: hit). */
  bernoulli(vectors: number, tie: number, threshold: number, hit: number, miss: number): void;
  /** Fills 4 * vectors normal values at OUT, the edges from the scalar generator. */
  normal(vectors: number, mean: number, std: number): void;
}

/** The TypeScript twin of rng-lanes.wat. */
function tsKernel(): LaneKernel {
  const memory = new ArrayBuffer(MEMORY_BYTES);
  const s = new Int32Array(memory, 0, 16); // s0 of lanes 0-3, then s1, s2, s3
  const f32 = new Float32Array(memory);
  const kn = new Uint32Array(memory, KN, 128);
  const wn = new Float64Array(memory, WN, 128);
  const scalar = new Int32Array(memory, SCALAR, 4);
  const r = new Int32Array(4);
  // the scalar generator's words unsigned, as rng-lanes.wat's $next compares them
  const source = { nextWord: () => xoshiroStep(scalar, 0, 1) >>> 0 };
  const step = (): void => {
    for (let k = 0; k < 4; k++) r[k] = xoshiroStep(s, k, 4);
  };
  return {
    kind: 'ts',
    memory,
    bernoulli(vectors, tie, threshold, hit, miss) {
      for (let v = 0; v < vectors; v++) {
        step();
        for (let b = 0; b < 16; b++) {
          const byte = (r[b >> 2]! >>> (8 * (b & 3))) & 255;
          f32[OUT / 4 + 16 * v + b] = byte < tie ? hit : byte > tie ? miss : source.nextWord() < threshold ? hit : miss;
        }
      }
    },
    normal(vectors, mean, std) {
      for (let v = 0; v < vectors; v++) {
        step();
        for (let k = 0; k < 4; k++) {
          const hz = r[k]!;
          const iz = hz & 127;
          f32[OUT / 4 + 4 * v + k] = mean + std * (Math.abs(hz) < kn[iz]! ? hz * wn[iz]! : zigguratEdge(source, hz, iz));
        }
      }
    },
  };
}

function decodeBase64(text: string): Uint8Array {
  const bytes = atob(text);
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
  return out;
}

/** rng-lanes.wat, or undefined where WebAssembly (with SIMD) is not available. */
function wasmKernel(): LaneKernel | undefined {
  if (typeof WebAssembly !== 'object') return undefined;
  const bytes = decodeBase64(RNG_LANES_WASM);
  if (!WebAssembly.validate(bytes)) return undefined;
  // the edges' exp and log are JavaScript's own, so both kernels round alike
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { math: { exp: Math.exp, log: Math.log } });
  const e = instance.exports as {
    memory: { buffer: ArrayBuffer };
    bernoulli: LaneKernel['bernoulli'];
    normal: LaneKernel['normal'];
  };
  return { kind: 'wasm', memory: e.memory.buffer, bernoulli: e.bernoulli, normal: e.normal };
}

const kernels = new Map<LaneKernelKind, LaneKernel | undefined>();

/**
 * A kernel of the given kind (created once, tables loaded), or undefined if this runtime cannot
 * run it. Without a kind: WebAssembly where it runs, else TypeScript.
 */
export function laneKernel(kind?: LaneKernelKind): LaneKernel | undefined {
  if (!kind) return laneKernel('wasm') ?? laneKernel('ts');
  if (!kernels.has(kind)) {
    const k = kind === 'wasm' ? wasmKernel() : tsKernel();
    if (k) {
      new Uint32Array(k.memory, KN, 128).set(ZIGGURAT.kn);
      new Float64Array(k.memory, WN, 128).set(ZIGGURAT.wn);
      new Float64Array(k.memory, FN, 128).set(ZIGGURAT.fn);
    }
    kernels.set(kind, k);
  }
  return kernels.get(kind);
}

/** The next 32-bit word of an Rng (uniform() is word / 2^32, exactly). */
function word(rng: Rng): number {
  return rng.uniform() * 4294967296;
}

/**
 * Seeds the kernel with 20 words of `rng`: 16 for the four lanes, 4 for the scalar generator (a
 * generator of four zero words, never seen, gets a 1).
 */
function seed(kernel: LaneKernel, rng: Rng): void {
  const s = new Uint32Array(kernel.memory, 0, 16);
  for (let k = 0; k < 4; k++) {
    for (let m = 0; m < 4; m++) s[4 * m + k] = word(rng);
    if ((s[k]! | s[4 + k]! | s[8 + k]! | s[12 + k]!) === 0) s[k] = 1;
  }
  const scalar = new Uint32Array(kernel.memory, SCALAR, 4);
  for (let m = 0; m < 4; m++) scalar[m] = word(rng);
  if ((scalar[0]! | scalar[1]! | scalar[2]! | scalar[3]!) === 0) scalar[0] = 1;
}

function chooseKernel(kind: LaneKernelKind | undefined): LaneKernel {
  const kernel = laneKernel(kind);
  if (!kernel) throw new Error(`rng-lanes: the ${kind} kernel cannot run here (no WebAssembly SIMD)`);
  return kernel;
}

/** Runs `fill` over `out` a chunk at a time, copying each chunk out of the kernel's memory. */
function inChunks(kernel: LaneKernel, out: Float32Array, perVector: number, fill: (vectors: number) => void): Float32Array {
  const values = new Float32Array(kernel.memory, OUT, CHUNK);
  for (let start = 0; start < out.length; start += CHUNK) {
    const n = Math.min(CHUNK, out.length - start);
    fill(Math.ceil(n / perVector));
    out.set(n === CHUNK ? values : values.subarray(0, n), start);
  }
  return out;
}

/**
 * `hit` with probability p (to within 2^-40), `miss` otherwise. Each value is a byte of the lanes'
 * output (vector v's 16 bytes in memory order are values 16v..16v+15): below floor(256p) a hit,
 * above it a miss, equal to it (1 in 256) a word w of the scalar generator decides (hit when
 * w / 2^32 < frac(256p)). Takes 20 words of `rng`; p = 1 fills `hit` and takes none.
 */
export function fillBernoulliLanes(rng: Rng, out: Float32Array, p: number, hit = 1, miss = 0, kind?: LaneKernelKind): Float32Array {
  if (!(p >= 0 && p <= 1)) throw new Error(`fillBernoulliLanes: p must be in [0, 1], got ${p}`);
  const scaled = p * 256;
  const tie = Math.floor(scaled);
  if (tie === 256) return out.fill(hit);
  const threshold = (scaled - tie) * 4294967296;
  const kernel = chooseKernel(kind);
  seed(kernel, rng);
  // a trailing partial vector is drawn whole and its extra values dropped
  return inChunks(kernel, out, 16, (vectors) => kernel.bernoulli(vectors, tie, threshold, hit, miss));
}

/**
 * Normal values, mean + std * z, z by the ziggurat: lane k of vector v gives value 4v + k when it
 * falls in its layer's rectangle; the wedges and the tail draw from the scalar generator. Takes
 * 20 words of `rng`.
 */
export function fillNormalLanes(rng: Rng, out: Float32Array, mean = 0, std = 1, kind?: LaneKernelKind): Float32Array {
  const kernel = chooseKernel(kind);
  seed(kernel, rng);
  return inChunks(kernel, out, 4, (vectors) => kernel.normal(vectors, mean, std));
}
