/** Helpers shared by this package's tests (not exported from the package). */
import * as tf from '@tensorflow/tfjs';
import { activateRuntime, loadRuntime, type TfjsRuntimeName } from '../runtimes.js';

/** Makes the runtime current (loading it on first use). */
export async function useRuntime(name: TfjsRuntimeName): Promise<void> {
  await activateRuntime(await loadRuntime(name));
}

/** Deterministic values in [-1, 1) (a small LCG, so tests need no seeded tfjs RNG). */
export function values(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
