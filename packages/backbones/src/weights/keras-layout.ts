/**
 * Keras variable names and layouts -> PyTorch-style parameter names and layouts:
 * `<layer>/kernel` (Conv, HWIO) -> `<layer>.weight` OIHW; `<layer>/depthwise_kernel`
 * [kh, kw, C, m] -> `<layer>.weight` [C*m, 1, kh, kw]; a Dense `kernel` [in, out] -> [out, in];
 * batch-norm `gamma` / `beta` / `moving_mean` / `moving_variance` -> `weight` / `bias` /
 * `running_mean` / `running_var`. Other variables keep their name and layout.
 */
import type { TensorData } from '@unias/graph';

const RENAME: Readonly<Record<string, string>> = {
  kernel: 'weight',
  depthwise_kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** "block_1_expand/kernel:0" -> { layer: "block_1_expand", variable: "kernel" }. */
export function splitKerasName(name: string): { layer: string; variable: string } {
  const clean = name.replace(/:\d+$/, '');
  const at = clean.lastIndexOf('/');
  if (at <= 0) throw new Error(`Keras weight "${name}" has no layer name (expected "<layer>/<variable>")`);
  return { layer: clean.slice(0, at), variable: clean.slice(at + 1) };
}

/** The parameter name for a Keras weight name (nested scopes joined with dots). */
export function kerasToTorchName(name: string): string {
  const { layer, variable } = splitKerasName(name);
  return `${layer.replace(/\//g, '.')}.${RENAME[variable] ?? variable}`;
}

/** Permutes a row-major tensor: out axis i is input axis perm[i]. */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): { shape: number[]; data: Float32Array } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i]!;
  }
  const stepFor = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    // Advance the output multi-index (last axis fastest) and the matching source offset.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += stepFor[d]!;
      if (idx[d]! < outShape[d]!) break;
      src -= stepFor[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return { shape: outShape, data: out };
}

/** Converts one Keras weight to its PyTorch layout (see the module comment). */
export function kerasToTorchTensor(name: string, shape: readonly number[], data: Float32Array): TensorData<'float32'> {
  const { variable } = splitKerasName(name);
  if (variable === 'kernel' && shape.length === 4) return { dtype: 'float32', ...permute(data, shape, [3, 2, 0, 1]) };
  if (variable === 'kernel' && shape.length === 2) return { dtype: 'float32', ...permute(data, shape, [1, 0]) };
  if (variable === 'depthwise_kernel' && shape.length === 4) {
    const [kh, kw, c, m] = shape as [number, number, number, number];
    // [kh, kw, C, m] -> [C, m, kh, kw] = [C*m, 1, kh, kw]: output channel c*m + j, as TensorFlow orders them.
    const p = permute(data, shape, [2, 3, 0, 1]);
    return { dtype: 'float32', shape: [c * m, 1, kh, kw], data: p.data };
  }
  return { dtype: 'float32', shape: [...shape], data };
}
