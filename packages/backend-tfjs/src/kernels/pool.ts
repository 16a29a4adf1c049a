/**
 * Pooling and bilinear resize on NCHW tensors. These act on each channel alone, so N and C fold
 * into the tfjs batch ([N*C, H, W, 1], a free reshape) instead of paying two transposes.
 */
import * as tf from '@tensorflow/tfjs';
import type { Pads2d } from '@unias/graph';
import { withGradient } from './custom-grad.js';
import { spreadByStride } from './spatial.js';
import type { KernelTable } from './types.js';
import { arg, rank4, tfPadding } from './types.js';

function channelsAsBatch(x: tf.Tensor, what: string): tf.Tensor4D {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return rank4(tf.reshape(x, [n * c, h, w, 1]), what);
}

function backToNCHW(y: tf.Tensor, n: number, c: number): tf.Tensor {
  return tf.reshape(y, [n, c, y.shape[1]!, y.shape[2]!]);
}

/** How many window taps fall inside the unpadded input, per output position ([oh, ow]). */
function validCounts(
  h: number,
  w: number,
  oh: number,
  ow: number,
  kernel: readonly [number, number],
  strides: readonly [number, number],
  pads: Pads2d,
): Float32Array {
  const axis = (size: number, out: number, k: number, s: number, begin: number): number[] =>
    Array.from({ length: out }, (_, o) => {
      const start = o * s - begin;
      return Math.min(start + k, size) - Math.max(start, 0);
    });
  const rows = axis(h, oh, kernel[0], strides[0], pads[0]);
  const cols = axis(w, ow, kernel[1], strides[1], pads[1]);
  const out = new Float32Array(oh * ow);
  for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) out[i * ow + j] = rows[i]! * cols[j]!;
  return out;
}

/**
 * Bilinear interpolation weights as an [out, in] matrix, PyTorch semantics: align_corners maps the
 * corner pixels onto each other; otherwise half-pixel centres with scale in/out, source clamped at 0.
 */
export function interpolationMatrix(inSize: number, outSize: number, alignCorners: boolean): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = alignCorners ? o * scale : Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const frac = src - i0;
    m[o * inSize + i0]! += 1 - frac;
    m[o * inSize + i1]! += frac;
  }
  return m;
}

/**
 * Forward: tfjs's native resize (halfPixelCenters matches PyTorch's align_corners=false, checked
 * against a float64 reference for up- and down-sampling). Backward: tfjs's ResizeBilinearGrad
 * ignores halfPixelCenters (and swaps H and W in its output shape), so the gradient is written
 * here as two matmuls with the interpolation matrices: dx = Ah^T dy Aw.
 */
const resize = (size: readonly [number, number], alignCorners: boolean) =>
  withGradient(([x]) => {
    const [n, c, h, w] = x!.shape as [number, number, number, number];
    const [oh, ow] = size;
    const y = tf.image.resizeBilinear(channelsAsBatch(x!, 'resizeBilinear'), [oh, ow], alignCorners, !alignCorners);
    return {
      value: backToNCHW(y, n, c),
      // Both contractions as plain 2-D matmuls (tfjs-wasm's fast path): over OW with Aw, then,
      // with H and W swapped, over OH with Ah.
      gradFunc: (dy) => {
        const aw = tf.tensor2d(interpolationMatrix(w, ow, alignCorners), [ow, w]);
        const ah = tf.tensor2d(interpolationMatrix(h, oh, alignCorners), [oh, h]);
        const rows = tf.reshape(tf.matMul(tf.reshape(dy, [n * c * oh, ow]), aw), [n * c, oh, w]);
        const cols = tf.matMul(tf.reshape(tf.transpose(rows, [0, 2, 1]), [n * c * w, oh]), ah);
        return [tf.reshape(tf.transpose(tf.reshape(cols, [n * c, w, h]), [0, 2, 1]), [n, c, h, w])];
      },
    };
  });

/**
 * Gradient of max pooling: dy goes to the first tap (row-major) equal to its window's max, as in
 * tfjs-cpu and PyTorch. Written here because tfjs-wasm's MaxPoolGrad drops the gradient of every
 * window whose max is negative. Tap by tap: pick the window values with a strided slice, route dy
 * where they hit the max, spread the result back by the stride and shift it to the tap's offset.
 */
function maxPoolGradient(
  dy: tf.Tensor,
  x: tf.Tensor,
  y: tf.Tensor,
  kernel: readonly [number, number],
  strides: readonly [number, number],
  pads: Pads2d,
): tf.Tensor {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const [, oh, ow] = y.shape as [number, number, number, number];
  const [sh, sw] = strides;
  const [t, l, bottom, r] = pads;
  const hp = h + t + bottom;
  const wp = w + l + r;
  const spanH = (oh - 1) * sh + 1;
  const spanW = (ow - 1) * sw + 1;
  const padded = t + l + bottom + r > 0;
  const xp = padded
    ? tf.pad(
        x,
        [
          [0, 0],
          [t, bottom],
          [l, r],
          [0, 0],
        ],
        -Infinity,
      )
    : x;
  let open = tf.onesLike(y);
  let acc: tf.Tensor | null = null;
  for (let i = 0; i < kernel[0]; i++) {
    for (let j = 0; j < kernel[1]; j++) {
      const [nextAcc, nextOpen] = tf.tidy(() => {
        const win = tf.stridedSlice(xp, [0, i, j, 0], [b, i + spanH, j + spanW, c], [1, sh, sw, 1]);
        const hit = tf.mul(tf.cast(tf.equal(win, y), 'float32'), open);
        const placed = tf.pad(spreadByStride(tf.mul(dy, hit), sh, sw), [
          [0, 0],
          [i, hp - i - spanH],
          [j, wp - j - spanW],
          [0, 0],
        ]);
        return [acc ? tf.add(acc, placed) : placed, tf.sub(open, hit)];
      });
      acc?.dispose();
      open.dispose();
      acc = nextAcc!;
      open = nextOpen!;
    }
  }
  open.dispose();
  const full = acc ?? tf.zeros([b, hp, wp, c]);
  return padded ? tf.slice(full, [0, t, l, 0], [b, h, w, c]) : full;
}

const maxPool = (kernel: readonly [number, number], strides: readonly [number, number], pads: Pads2d) =>
  withGradient(([x], save) => {
    const y = tf.maxPool(rank4(x!, 'maxPool2d'), [kernel[0], kernel[1]], [strides[0], strides[1]], tfPadding(pads));
    save([x!, y]);
    return { value: y, gradFunc: (dy, [sx, sy]) => [maxPoolGradient(dy, sx!, sy!, kernel, strides, pads)] };
  });

export const poolKernels: Pick<KernelTable, 'avgPool2d' | 'maxPool2d' | 'resizeBilinear'> = {
  // Max over the in-bounds taps equals max with -inf padding (a window always holds one such tap).
  maxPool2d: (inputs, a) => {
    const x = arg(inputs, 0, 'maxPool2d');
    const [n, c] = x.shape as [number, number];
    return backToNCHW(maxPool(a.kernel, a.strides, a.pads)(channelsAsBatch(x, 'maxPool2d')), n, c);
  },
  // Zero padding then a 'valid' average divides by the full window (count_include_pad); without it,
  // rescale by window size / in-bounds taps (a constant map, so the gradient stays exact).
  avgPool2d: (inputs, a) => {
    const x = arg(inputs, 0, 'avgPool2d');
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const [t, l, b, r] = a.pads;
    const padded = t + l + b + r > 0;
    const xb = channelsAsBatch(x, 'avgPool2d');
    const src = padded
      ? rank4(
          tf.pad(xb, [
            [0, 0],
            [t, b],
            [l, r],
            [0, 0],
          ]),
          'avgPool2d',
        )
      : xb;
    const y = tf.avgPool(src, [a.kernel[0], a.kernel[1]], [a.strides[0], a.strides[1]], 'valid');
    const [, oh, ow] = y.shape;
    if (!padded || a.countIncludePad) return backToNCHW(y, n, c);
    const counts = validCounts(h, w, oh, ow, a.kernel, a.strides, a.pads);
    const k = a.kernel[0] * a.kernel[1];
    const scale = tf.tensor(
      counts.map((v) => k / v),
      [1, oh, ow, 1],
    );
    return backToNCHW(tf.mul(y, scale), n, c);
  },
  resizeBilinear: (inputs, a) => resize(a.size, a.alignCorners)(arg(inputs, 0, 'resizeBilinear')),
};
