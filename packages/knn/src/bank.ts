/**
 * Building the memory bank from embedded normal images: patches are collected (a seeded reservoir
 * keeps at most `maxCandidates`, so memory stays bounded on large datasets), then subsampled to
 * the bank size by greedy coreset or at random, and stored column-wise ([C, M]) with the squared
 * norms, the layout `nearestDistanceMap` multiplies with.
 */
import { createRng, type Rng } from '@unias/graph';
import { greedyCoreset } from './coreset.js';

export type Subsampling = 'greedy' | 'random';
export const SUBSAMPLINGS: readonly Subsampling[] = ['greedy', 'random'];

export interface MemoryBank {
  /** [C, M]: one column per kept patch. */
  readonly bank: Float32Array;
  /** [1, M]: squared norm of each column. */
  readonly sqNorm: Float32Array;
  readonly channels: number;
  readonly size: number;
  /** Patches seen before subsampling. */
  readonly seen: number;
}

export interface BankBuilderOptions {
  readonly channels: number;
  /** Patches kept for subsampling at most (reservoir). Default 200,000. */
  readonly maxCandidates?: number;
  readonly seed?: number;
}

export interface FinishOptions {
  /** Patches in the bank. */
  readonly size: number;
  readonly subsampling?: Subsampling;
  /** Random projection width for the greedy coreset. Default 32. */
  readonly projectDim?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface BankBuilder {
  /** embedding: [N, C, h, w] values (as the embedding graph outputs them). */
  add(embedding: Float32Array, n: number, h: number, w: number): void;
  readonly seen: number;
  finish(o: FinishOptions): MemoryBank;
}

export function createBankBuilder(o: BankBuilderOptions): BankBuilder {
  const c = o.channels;
  const cap = o.maxCandidates ?? 200_000;
  if (!Number.isInteger(c) || c < 1) throw new Error(`memory bank: channels must be a positive integer, got ${c}`);
  if (!Number.isInteger(cap) || cap < 1) throw new Error(`memory bank: maxCandidates must be a positive integer, got ${cap}`);
  const rng: Rng = createRng(o.seed ?? 0);
  let rows = new Float32Array(Math.min(cap, 4096) * c);
  let stored = 0;
  let seen = 0;
  const put = (slot: number, src: Float32Array, offset: number, stride: number) => {
    const at = slot * c;
    for (let ch = 0; ch < c; ch++) rows[at + ch] = src[offset + ch * stride]!;
  };
  return {
    get seen() {
      return seen;
    },
    add(embedding, n, h, w) {
      const plane = h * w;
      if (embedding.length !== n * c * plane) throw new Error(`memory bank: ${embedding.length} values are not [${n}, ${c}, ${h}, ${w}]`);
      for (let i = 0; i < n; i++) {
        for (let p = 0; p < plane; p++) {
          const offset = i * c * plane + p;
          seen++;
          if (stored < cap) {
            if ((stored + 1) * c > rows.length) {
              const grown = new Float32Array(Math.min(cap, 2 * (stored + 1)) * c);
              grown.set(rows);
              rows = grown;
            }
            put(stored++, embedding, offset, plane);
          } else {
            const j = rng.int(seen); // reservoir sampling: every patch kept with probability cap / seen
            if (j < cap) put(j, embedding, offset, plane);
          }
        }
      }
    },
    finish(f) {
      if (stored === 0) throw new Error('memory bank: no patches were added');
      const size = Math.min(f.size, stored);
      if (!Number.isInteger(f.size) || f.size < 1) throw new Error(`memory bank: size must be a positive integer, got ${f.size}`);
      const method = f.subsampling ?? 'greedy';
      let picked: Int32Array;
      if (size === stored) picked = Int32Array.from({ length: stored }, (_, i) => i);
      else if (method === 'random') picked = Int32Array.from(rng.shuffle(Array.from({ length: stored }, (_, i) => i)).slice(0, size));
      else if (method === 'greedy')
        picked = greedyCoreset(rows.subarray(0, stored * c), stored, c, size, {
          seed: rng.int(2 ** 31),
          projectDim: f.projectDim ?? 32,
          ...(f.onProgress ? { onProgress: f.onProgress } : {}),
        });
      else throw new Error(`memory bank: unknown subsampling "${String(method)}"; known: ${SUBSAMPLINGS.join(', ')}`);
      const bank = new Float32Array(c * size);
      const sqNorm = new Float32Array(size);
      for (let m = 0; m < size; m++) {
        const at = picked[m]! * c;
        let s = 0;
        for (let ch = 0; ch < c; ch++) {
          const v = rows[at + ch]!;
          bank[ch * size + m] = v;
          s += v * v;
        }
        sqNorm[m] = s;
      }
      return { bank, sqNorm, channels: c, size, seen };
    },
  };
}
