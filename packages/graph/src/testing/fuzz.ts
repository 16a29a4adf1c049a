/**
 * Seeded, bounded fuzzing of file readers: byte-level mutations of valid files (bit flips, special
 * bytes, truncation, insertions, repeated and overwritten spans), and a runner that checks every
 * case ends in a result or a clear error, quickly, within a case count and a time budget. Every
 * case is reproducible from the seed and its index.
 */
import { createRng, type Rng } from '../rng.js';

export interface Mutation {
  readonly bytes: Uint8Array;
  /** What was done, for the failure message. */
  readonly how: string;
}

const SPECIAL = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x22, 0x5b, 0x7b, 0x7d, 0x3a, 0x2c, 0x30, 0x39];

/** One random mutation of `input` (never modified); `focus` limits where it lands (default: anywhere). */
export function mutateBytes(rng: Rng, input: Uint8Array, focus: readonly [number, number] = [0, input.length]): Mutation {
  const [lo, hi] = [Math.max(0, focus[0]), Math.min(input.length, focus[1])];
  const at = () => lo + rng.int(Math.max(1, hi - lo));
  const b = Uint8Array.from(input);
  switch (rng.int(7)) {
    case 0: {
      const n = 1 + rng.int(4);
      const where: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = at();
        b[p]! ^= 1 << rng.int(8);
        where.push(p);
      }
      return { bytes: b, how: `bit flips at ${where.join(',')}` };
    }
    case 1: {
      const p = at();
      const v = SPECIAL[rng.int(SPECIAL.length)]!;
      b[p] = v;
      return { bytes: b, how: `byte ${p} = 0x${v.toString(16)}` };
    }
    case 2: {
      const n = at();
      return { bytes: input.slice(0, n), how: `truncated to ${n} bytes` };
    }
    case 3: {
      const p = at();
      const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      const out = new Uint8Array(input.length + extra.length);
      out.set(input.subarray(0, p));
      out.set(extra, p);
      out.set(input.subarray(p), p + extra.length);
      return { bytes: out, how: `${extra.length} random bytes inserted at ${p}` };
    }
    case 4: {
      // a span repeated in place: duplicated fields, keys and lengths
      const p = at();
      const len = 1 + rng.int(Math.min(64, Math.max(1, input.length - p)));
      const span = input.subarray(p, p + len);
      const out = new Uint8Array(input.length + span.length);
      out.set(input.subarray(0, p + span.length));
      out.set(span, p + span.length);
      out.set(input.subarray(p + span.length), p + 2 * span.length);
      return { bytes: out, how: `${span.length} bytes at ${p} repeated` };
    }
    case 5: {
      // a run of 0xff or 0x00: huge varints, huge lengths, NULs
      const p = at();
      const len = 1 + rng.int(9);
      const v = rng.int(2) === 0 ? 0xff : 0x00;
      b.fill(v, p, Math.min(b.length, p + len));
      return { bytes: b, how: `${len} bytes of 0x${v.toString(16)} at ${p}` };
    }
    default: {
      const p = at();
      const len = 1 + rng.int(32);
      for (let i = p; i < Math.min(b.length, p + len); i++) b[i] = rng.int(256);
      return { bytes: b, how: `${len} random bytes written at ${p}` };
    }
  }
}

export interface FuzzOptions<T> {
  readonly seed: number;
  /** Most cases to run. */
  readonly count: number;
  /** Stop early (after at least one case) once this much time has passed. */
  readonly budgetMs: number;
  /** One case: a new input from the seeded Rng (e.g. a mutation of a valid file). */
  readonly make: (rng: Rng, index: number) => { readonly input: T; readonly how: string; readonly mustRefuse?: boolean };
  /** Reads the input; returns normally (accepted) or throws. */
  readonly run: (input: T) => unknown | Promise<unknown>;
  /** Whether a thrown error is a clear refusal (its class and message); anything else fails the fuzz. */
  readonly clearError: (e: unknown) => boolean;
  /** Most milliseconds one case may take (a hang or a runaway loop shows here). Default 2000. */
  readonly caseMs?: number;
}

export interface FuzzReport {
  readonly cases: number;
  readonly accepted: number;
  readonly refused: number;
  /** Unclear errors and slow cases, each with the case index and the mutation: empty when clean. */
  readonly failures: readonly string[];
  readonly slowestMs: number;
  readonly ms: number;
}

export async function fuzz<T>(o: FuzzOptions<T>): Promise<FuzzReport> {
  const caseMs = o.caseMs ?? 2000;
  const t0 = performance.now();
  const failures: string[] = [];
  let accepted = 0;
  let refused = 0;
  let slowest = 0;
  let i = 0;
  for (; i < o.count && (i === 0 || performance.now() - t0 < o.budgetMs); i++) {
    const rng = createRng(o.seed + i * 7919);
    const { input, how, mustRefuse } = o.make(rng, i);
    const c0 = performance.now();
    try {
      await o.run(input);
      accepted++;
      if (mustRefuse) failures.push(`case ${i} (${how}): accepted, but it is invalid`);
    } catch (e) {
      if (o.clearError(e)) refused++;
      else failures.push(`case ${i} (${how}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`.slice(0, 400));
    }
    const ms = performance.now() - c0;
    slowest = Math.max(slowest, ms);
    if (ms > caseMs) failures.push(`case ${i} (${how}) took ${ms.toFixed(0)} ms`);
  }
  return { cases: i, accepted, refused, failures, slowestMs: slowest, ms: performance.now() - t0 };
}
