/**
 * Convolutions in onnxruntime's blocked channel layout (NCHWc), for CPU sessions only.
 *
 * onnxruntime's CPU provider converts a Conv to its blocked kernels only when the weight is a
 * constant (its NchwcTransformer reorders the weight once, at load). A training step's weights
 * are inputs, so every one of its convolutions ran as im2col + GEMM, which is slow for the few
 * channels of the `cpu` preset's full-resolution maps. The blocked kernels themselves take any
 * weight tensor: this lowering reorders the weight in the graph (blockedWeightOrder's reshapes and
 * transposes), the input with ReorderInput, and the output back with ReorderOutput.
 *
 * The ops live in onnxruntime's own domain (`com.microsoft.nchwc`): no other runtime or provider
 * knows them, so files written for others never use this, and the block must be the one
 * onnxruntime's MLAS uses on this processor (16 with AVX-512, 8 with AVX2; see
 * @unias/backend-onnx's probe).
 */
import type { Conv2dAttrs } from '@unias/graph';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/**
 * The larger channel count times kernel area up to which the blocked kernel wins. Measured side
 * by side on 2 threads (Xeon, AVX-512, block 16; reorders included): 3x3 convs of 16-64 channels
 * in and out on 28-112 pixel maps 1.2-1.8x faster blocked; 128 -> 64 channels at 28x28, 32 -> 256
 * at 56x56 and 256-512 channels 0.6-0.9x; 1x1 and strided patch convs slower blocked (0.7-0.8x).
 */
export const MAX_BLOCKED_REDUCTION = 64 * 9;

/** Whether a conv of weight shape `w` and these attributes runs blocked (a block of `block` channels). */
export function blockedConvEligible(w: readonly number[], a: Conv2dAttrs, block: number): boolean {
  if (w.length !== 4 || a.groups !== 1) return false;
  const [co, ci, kh, kw] = w as [number, number, number, number];
  if (co % block !== 0 || ci % block !== 0) return false;
  if (kh * kw === 1 || Math.max(ci, co) * kh * kw > MAX_BLOCKED_REDUCTION) return false;
  return a.strides.every((s) => s === 1) && a.dilations.every((d) => d === 1);
}

/**
 * Reshapes and permutations that take an OIHW weight to MLAS's OIHWBiBo order,
 * w[ob B + bo, ib B + bi, h, w] at [ob, ib, h, w, bi, bo]: bo moves last ([ob, bo, rest] ->
 * [ob, rest, bo]), then bi and the kernel offsets swap above it. Two transposes that onnxruntime
 * runs as block copies: one six-axis permutation took 28 us against 2 x 11 for a 32x32x3x3 weight.
 */
export function blockedWeightOrder(w: readonly number[], block: number): { shape: number[]; perm: number[] }[] {
  const [co, ci, kh, kw] = w as [number, number, number, number];
  const k = kh * kw;
  return [
    { shape: [co / block, block, ci * k], perm: [0, 2, 1] },
    { shape: [(co / block) * (ci / block), block, k, block], perm: [0, 2, 1, 3] },
  ];
}
