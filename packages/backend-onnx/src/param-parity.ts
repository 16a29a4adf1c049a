/**
 * Trained parameters of two runs (two devices) compared. The key third of an attention's
 * in_proj_bias has an identically zero gradient (it shifts every score of a query equally), so
 * under Adam it moves by amplified rounding noise, different on every device: it is left out of
 * the comparison and reported apart (both runs should keep it within a few lr of zero).
 */
import type { TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';

export interface ParamParity {
  /** Largest relative difference (maxRelError) over the parameters, key biases left out. */
  readonly worst: number;
  /** The parameter it is in. */
  readonly worstName: string;
  /** Every parameter's difference (key biases left out), largest first. */
  readonly ranked: ReadonlyArray<{ readonly name: string; readonly error: number }>;
  /** Largest |value| in the key third of any in_proj_bias, in either run (0 when there is none). */
  readonly keyBiasMax: number;
}

function split(name: string, data: ArrayLike<number>): { rest: Float32Array; key: Float32Array } {
  const all = Float32Array.from(data);
  if (!name.endsWith('in_proj_bias')) return { rest: all, key: new Float32Array(0) };
  const e = all.length / 3;
  return { rest: Float32Array.from([...all.subarray(0, e), ...all.subarray(2 * e)]), key: all.subarray(e, 2 * e) };
}

export function compareTrainedParams(a: ReadonlyMap<string, TensorData>, b: ReadonlyMap<string, TensorData>): ParamParity {
  let keyBiasMax = 0;
  const ranked: Array<{ name: string; error: number }> = [];
  for (const [name, tb] of b) {
    const ta = a.get(name);
    if (!ta) throw new Error(`parameter ${name} is in one run only`);
    const [x, y] = [split(name, ta.data), split(name, tb.data)];
    ranked.push({ name, error: maxRelError(x.rest, y.rest) });
    for (const k of [x.key, y.key]) for (const v of k) keyBiasMax = Math.max(keyBiasMax, Math.abs(v));
  }
  ranked.sort((p, q) => q.error - p.error); // stable: the first of equals stays first
  return { worst: ranked[0]?.error ?? 0, worstName: ranked[0]?.name ?? '', ranked, keyBiasMax };
}
