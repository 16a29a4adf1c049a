/**
 * The three gradient kernels tfjs-backend-wasm lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput), registered for 'wasm'
 * and built from kernels wasm has, so `tf.grads` through conv2d and depthwiseConv2d works there,
 * plus a faster Conv2DBackpropInput:
 * - a filter gradient is, per kernel tap, a strided slice of the padded input times dy (im2col:
 *   the taps stacked channels-first, then one matmul; for depthwise, a product reduced over rows);
 * - an input gradient is a (depthwise) conv of the stride-spread, padded dy with the flipped kernel.
 * Kernels run nested tf ops; the engine does not record ops run inside a kernel on the tape.
 */
import * as tf from '@tensorflow/tfjs';
import { spreadByStride } from './kernels/spatial.js';
import { rank4 } from './kernels/types.js';

type Quad = [number, number, number, number];
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Attrs = tf.NamedAttrMap | undefined;

const WASM = 'wasm';
/** Above this many im2col elements the filter gradient goes tap by tap (bounded memory). */
const IM2COL_LIMIT = 1 << 24;

function tensorOf(info: tf.TensorInfo | undefined, what: string): tf.Tensor {
  if (!info) throw new Error(`${what} is missing`);
  return info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info);
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'number');
}

function readPair(attrs: Attrs, name: string, fallback?: number): [number, number] {
  const v = attrs?.[name];
  if (v === undefined && fallback !== undefined) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  if (isNumberArray(v) && v.length === 2) return [v[0]!, v[1]!];
  throw new Error(`attribute ${name} must be a number or a pair, got ${JSON.stringify(v)}`);
}

function readQuad(attrs: Attrs, name: string): Quad {
  const v = attrs?.[name];
  if (isNumberArray(v) && v.length === 4) return [v[0]!, v[1]!, v[2]!, v[3]!];
  throw new Error(`attribute ${name} must be 4 numbers, got ${JSON.stringify(v)}`);
}

function readPad(attrs: Attrs): Pad {
  const v = attrs?.['pad'];
  if (v === 'same') return 'same';
  if (v === 'valid') return 'valid';
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 4) {
    const pairs: Array<[number, number]> = [];
    for (const p of v) if (isNumberArray(p) && p.length === 2) pairs.push([p[0]!, p[1]!]);
    if (pairs.length === 4) return [pairs[0]!, pairs[1]!, pairs[2]!, pairs[3]!];
  }
  throw new Error(`attribute pad is not a tfjs padding: ${JSON.stringify(v)}`);
}

function readRounding(attrs: Attrs): Rounding {
  const v = attrs?.['dimRoundingMode'];
  if (v === undefined || v === null) return undefined;
  if (v === 'floor') return 'floor';
  if (v === 'round') return 'round';
  if (v === 'ceil') return 'ceil';
  throw new Error(`attribute dimRoundingMode must be floor, round or ceil, got ${JSON.stringify(v)}`);
}

function quadShape(t: tf.Tensor, what: string): Quad {
  if (t.rank !== 4) throw new Error(`${what} must have rank 4, got [${t.shape.join(',')}]`);
  return [t.shape[0]!, t.shape[1]!, t.shape[2]!, t.shape[3]!];
}

/** x padded by (top, left, bottom, right); negative amounts crop. */
function padOrCrop(x: tf.Tensor, top: number, left: number, bottom: number, right: number): tf.Tensor {
  let y = x;
  if (top > 0 || left > 0 || bottom > 0 || right > 0) {
    y = tf.pad(y, [
      [0, 0],
      [Math.max(top, 0), Math.max(bottom, 0)],
      [Math.max(left, 0), Math.max(right, 0)],
      [0, 0],
    ]);
  }
  if (top < 0 || left < 0 || bottom < 0 || right < 0) {
    const [n, h, w, c] = quadShape(y, 'padOrCrop');
    const t = Math.max(-top, 0);
    const l = Math.max(-left, 0);
    y = tf.slice(y, [0, t, l, 0], [n, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c]);
  }
  return y;
}

interface TapGeometry {
  readonly outH: number;
  readonly outW: number;
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly kernel: [number, number];
}

/**
 * The input window each kernel tap sees, in tap order (row-major), from a padded CNHW tensor
 * [C, N, Hp, Wp]: each [C, N, outH, outW]. Channels first, so that a window reshapes to [C, rows]
 * and the filter gradient is a plain (untransposed) matmul: tfjs-wasm's matmul is ~4x slower with
 * transposeA.
 */
function taps(xc: tf.Tensor, g: TapGeometry): Array<() => tf.Tensor> {
  const [c, n] = quadShape(xc, 'input');
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const list: Array<() => tf.Tensor> = [];
  for (let i = 0; i < g.kernel[0]; i++) {
    for (let j = 0; j < g.kernel[1]; j++) {
      const begin = [0, 0, i * dh, j * dw];
      const end = [c, n, i * dh + (g.outH - 1) * sh + 1, j * dw + (g.outW - 1) * sw + 1];
      list.push(() => (sh === 1 && sw === 1 ? tf.slice(xc, begin, [c, n, g.outH, g.outW]) : tf.stridedSlice(xc, begin, end, [1, 1, sh, sw])));
    }
  }
  return list;
}

function convGeometry(info: tf.backend_util.Conv2DInfo): TapGeometry {
  return {
    outH: info.outHeight,
    outW: info.outWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    kernel: [info.filterHeight, info.filterWidth],
  };
}

/** The NHWC input padded as the conv pads it, as CNHW. */
function paddedChannelsFirst(x: tf.Tensor, info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const p = info.padInfo;
  return tf.transpose(padOrCrop(x, p.top, p.left, p.bottom, p.right), [3, 0, 1, 2]);
}

/**
 * dW[kh, kw, ci, co] = sum over n, oh, ow of x_pad[n, oh*sh + kh*dh, ow*sw + kw*dw, ci] dy[n, oh, ow, co]:
 * the windows stacked as [taps * ci, rows] (im2col, channels first) times dy [rows, co], in one
 * matmul; above IM2COL_LIMIT elements one matmul per tap (same arithmetic, bounded memory).
 */
export function conv2dFilterGradient(x: tf.Tensor, dy: tf.Tensor, info: tf.backend_util.Conv2DInfo, strategy: 'auto' | 'im2col' | 'taps' = 'auto'): tf.Tensor {
  const g = convGeometry(info);
  const [n, oh, ow, co] = quadShape(dy, 'dy');
  const ci = x.shape[3]!;
  const rows = n * oh * ow;
  const dy2 = tf.reshape(dy, [rows, co]);
  const windows = taps(paddedChannelsFirst(x, info), g);
  const im2col = strategy === 'auto' ? windows.length * rows * ci <= IM2COL_LIMIT : strategy === 'im2col';
  if (im2col) {
    const cols = tf.concat(
      windows.map((w) => tf.reshape(w(), [ci, rows])),
      0,
    );
    return tf.reshape(tf.matMul(cols, dy2), info.filterShape);
  }
  const perTap = windows.map((w) => tf.tidy(() => tf.matMul(tf.reshape(w(), [ci, rows]), dy2)));
  return tf.reshape(tf.stack(perTap), info.filterShape);
}

/**
 * dW[kh, kw, c, m] = sum over n, oh, ow of x_pad[n, oh*sh + kh*dh, ow*sw + kw*dw, c] dy[n, oh, ow, c*M + m]:
 * per tap, a product with dy as [C, M, rows] reduced over its innermost axis.
 */
export function depthwiseFilterGradient(x: tf.Tensor, dy: tf.Tensor, info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const g = convGeometry(info);
  const [n, oh, ow, cm] = quadShape(dy, 'dy');
  const c = x.shape[3]!;
  const m = cm / c;
  const rows = n * oh * ow;
  const dyc = tf.transpose(tf.reshape(dy, [rows, c, m]), [1, 2, 0]);
  const perTap = taps(paddedChannelsFirst(x, info), g).map((w) => tf.tidy(() => tf.sum(tf.mul(tf.reshape(w(), [c, 1, rows]), dyc), 2)));
  return tf.reshape(tf.stack(perTap), info.filterShape);
}

/** dx = depthwise conv (stride 1, same dilation) of dy spread by the stride and padded, with the kernel flipped. */
export function depthwiseInputGradient(dy: tf.Tensor, filter: tf.Tensor, info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const [n, , , cm] = quadShape(dy, 'dy');
  const [kh, kw, c, m] = quadShape(filter, 'filter');
  const source = transposedConvSource(dy, kh, kw, info);
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, cm, 1]);
  const out = tf.depthwiseConv2d(rank4(source, 'dy'), rank4(flipped, 'filter'), 1, 'valid', 'NHWC', [info.dilationHeight, info.dilationWidth]);
  return m === 1 ? out : tf.sum(tf.reshape(out, [n, info.inHeight, info.inWidth, c, m]), 4);
}

/**
 * dx of a conv2d (NHWC): a forward conv of dy, spread by the stride and padded, with the kernel
 * flipped and its in/out channels swapped. Replaces tfjs-wasm's own Conv2DBackpropInput, a plain
 * loop about 10x slower than its (XNNPACK) forward conv on the same shapes.
 */
export function conv2dInputGradient(dy: tf.Tensor, filter: tf.Tensor, info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const [kh, kw] = quadShape(filter, 'filter');
  const source = transposedConvSource(dy, kh, kw, info);
  const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
  return tf.conv2d(rank4(source, 'dy'), rank4(flipped, 'filter'), 1, 'valid', 'NHWC', [info.dilationHeight, info.dilationWidth]);
}

/**
 * The input of the stride-1 'valid' conv that computes an input gradient: dy spread by the stride
 * (zeros between rows/cols) and padded (or cropped) so that a flipped kxk kernel covers exactly the
 * forward input's extent.
 */
function transposedConvSource(dy: tf.Tensor, kh: number, kw: number, info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const [, oh, ow] = quadShape(dy, 'dy');
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const spanH = (kh - 1) * info.dilationHeight;
  const spanW = (kw - 1) * info.dilationWidth;
  const top = spanH - info.padInfo.top;
  const left = spanW - info.padInfo.left;
  const bottom = info.inHeight + spanH - top - ((oh - 1) * sh + 1);
  const right = info.inWidth + spanW - left - ((ow - 1) * sw + 1);
  return padOrCrop(spreadByStride(dy, sh, sw), top, left, bottom, right);
}

const configs: tf.KernelConfig[] = [
  {
    kernelName: 'Conv2DBackpropFilter',
    backendName: WASM,
    kernelFunc: ({ inputs, attrs }) =>
      tf.tidy(() => {
        const x = tensorOf(inputs['x'], 'Conv2DBackpropFilter x');
        const dy = tensorOf(inputs['dy'], 'Conv2DBackpropFilter dy');
        if ((attrs?.['dataFormat'] ?? 'NHWC') !== 'NHWC') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
        const info = tf.backend_util.computeConv2DInfo(
          quadShape(x, 'x'),
          readQuad(attrs, 'filterShape'),
          readPair(attrs, 'strides'),
          1,
          readPad(attrs),
          readRounding(attrs),
          false,
          'channelsLast',
        );
        return conv2dFilterGradient(x, dy, info);
      }),
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    backendName: WASM,
    kernelFunc: ({ inputs, attrs }) =>
      tf.tidy(() => {
        const x = tensorOf(inputs['x'], 'DepthwiseConv2dNativeBackpropFilter x');
        const dy = tensorOf(inputs['dy'], 'DepthwiseConv2dNativeBackpropFilter dy');
        const info = tf.backend_util.computeConv2DInfo(
          quadShape(x, 'x'),
          readQuad(attrs, 'filterShape'),
          readPair(attrs, 'strides'),
          readPair(attrs, 'dilations', 1),
          readPad(attrs),
          readRounding(attrs),
          true,
        );
        return depthwiseFilterGradient(x, dy, info);
      }),
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: WASM,
    kernelFunc: ({ inputs, attrs }) =>
      tf.tidy(() => {
        const dy = tensorOf(inputs['dy'], 'DepthwiseConv2dNativeBackpropInput dy');
        const filter = tensorOf(inputs['filter'], 'DepthwiseConv2dNativeBackpropInput filter');
        const info = tf.backend_util.computeConv2DInfo(
          readQuad(attrs, 'inputShape'),
          quadShape(filter, 'filter'),
          readPair(attrs, 'strides'),
          readPair(attrs, 'dilations', 1),
          readPad(attrs),
          readRounding(attrs),
          true,
        );
        return depthwiseInputGradient(dy, filter, info);
      }),
  },
];

/** Replaces wasm's slow Conv2DBackpropInput (see `conv2dInputGradient`). */
const fastInputGradient: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: WASM,
  kernelFunc: ({ inputs, attrs }) =>
    tf.tidy(() => {
      const dy = tensorOf(inputs['dy'], 'Conv2DBackpropInput dy');
      const filter = tensorOf(inputs['filter'], 'Conv2DBackpropInput filter');
      if ((attrs?.['dataFormat'] ?? 'NHWC') !== 'NHWC') throw new Error('Conv2DBackpropInput: this wasm kernel supports NHWC only');
      const info = tf.backend_util.computeConv2DInfo(
        readQuad(attrs, 'inputShape'),
        quadShape(filter, 'filter'),
        readPair(attrs, 'strides'),
        1,
        readPad(attrs),
        readRounding(attrs),
        false,
        'channelsLast',
      );
      return conv2dInputGradient(dy, filter, info);
    }),
};

let registered = false;

export interface WasmGradientOptions {
  /**
   * Also replace wasm's own Conv2DBackpropInput (a plain loop) with one built on its forward conv
   * (same results, ~10x faster). Default true; false registers only the three missing kernels,
   * which is what a plain tfjs user needs at the least (benchmarks compare the two).
   */
  readonly fastInputGradient?: boolean;
}

/**
 * Registers, for 'wasm', the three gradient kernels it lacks (a kernel wasm already has is left
 * alone, should a later tfjs ship its own) and, by default, replaces its Conv2DBackpropInput with
 * one built on its forward conv (it serves conv2d gradients and conv2dTranspose). Global to the
 * process's tfjs, idempotent, safe before or after the wasm backend initialises.
 */
export function registerWasmGradientKernels(options: WasmGradientOptions = {}): void {
  if (registered) return;
  registered = true;
  for (const config of configs) {
    if (!tf.getKernel(config.kernelName, WASM)) tf.registerKernel(config);
  }
  if (options.fastInputGradient === false) return;
  if (tf.getKernel(fastInputGradient.kernelName, WASM)) tf.unregisterKernel(fastInputGradient.kernelName, WASM);
  tf.registerKernel(fastInputGradient);
}
