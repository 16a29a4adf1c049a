import type { Rng } from '../rng.js';
import { sizeOf, type TensorData } from '../tensor-data.js';

/** Uniform values in [low, high), shaped. */
export function uniform(rng: Rng, shape: readonly number[], low = -1, high = 1): TensorData<'float32'> {
  return { dtype: 'float32', shape: [...shape], data: rng.fillUniform(new Float32Array(sizeOf(shape)), low, high) };
}
