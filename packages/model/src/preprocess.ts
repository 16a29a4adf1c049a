/**
 * Feature pre-processing between the frozen backbone and the head, as the official backbone
 * wrapper does it: a 3x3 Gaussian blur (sigma 1, reflect border) gives the reconstruction target,
 * and the decoder sees the blurred map with its high-pass residual beside it. Training graphs add
 * feature jitter.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

/** kornia's Gaussian window: taps at integer offsets from the centre, normalised to sum 1. */
export function gaussianKernel1d(size: number, sigma: number): number[] {
  if (!Number.isInteger(size) || size <= 0) throw new Error(`gaussian kernel size must be a positive integer, got ${size}`);
  if (!(sigma > 0)) throw new Error(`gaussian sigma must be positive, got ${sigma}`);
  const half = Math.floor(size / 2);
  const shift = size % 2 === 0 ? 0.5 : 0;
  const w = Array.from({ length: size }, (_, i) => Math.exp(-((i - half + shift) ** 2) / (2 * sigma * sigma)));
  const sum = w.reduce((a, v) => a + v, 0);
  return w.map((v) => v / sum);
}

/**
 * Depthwise Gaussian blur of [N, C, H, W] with a reflect border ('same' size), as kornia's
 * `gaussian_blur2d(x, (k, k), (sigma, sigma))`: one k x k depthwise conv with the outer-product kernel.
 */
export function gaussianBlur(b: GraphBuilder, x: Sym, size: number, sigma: number): Sym {
  const [, c, h, w] = x.shape as [number, number, number, number];
  const k1 = gaussianKernel1d(size, sigma);
  const pad = Math.floor(size / 2);
  const padEnd = size - 1 - pad;
  if (pad >= h || pad >= w || padEnd >= h || padEnd >= w) {
    throw new Error(`gaussian blur: a ${size}x${size} kernel needs a reflect border smaller than the ${h}x${w} map`);
  }
  const kernel = new Float32Array(c * size * size);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) kernel[(ch * size + i) * size + j] = k1[i]! * k1[j]!;
  const padded = b.pad2d(x, [pad, pad, padEnd, padEnd], 'reflect');
  return b.conv2d(padded, b.constant(kernel, [c, 1, size, size]), null, { groups: c });
}

export interface PreprocessedTap {
  /** blur(v): what the decoder must reconstruct. */
  readonly target: Sym;
  /** concat(blur(v), v - blur(v)) along channels (2C channels). */
  readonly decoderInput: Sym;
}

/** The official FEATURE_POOL_SIZE 3 with sigma 1. */
export function preprocessTap(b: GraphBuilder, v: Sym): PreprocessedTap {
  const target = gaussianBlur(b, v, 3, 1);
  return { target, decoderInput: b.concat([target, b.sub(v, target)], 1) };
}

export interface JitterOptions {
  /** Official FEATURE_JITTER_SCALE 20. */
  readonly scale: number;
  /** Official FEATURE_JITTER_PROB 0.5: each batch is jittered with this probability. */
  readonly prob: number;
}

/**
 * Training-time feature jitter (official `add_jitter`): with probability `prob` per batch,
 * `u + randn * (||u||_channels / C) * scale`, the norm taken per pixel over the C channels of u.
 * The normal draws and the coin are random inputs (`<name>.noise`, `<name>.apply`), drawn in JS
 * each step. The official code flips one coin per tap, so each tap gets its own.
 * In an eval graph (or with scale 0 / prob 0) u is returned unchanged.
 */
export function featureJitter(b: GraphBuilder, name: string, u: Sym, o: JitterOptions): Sym {
  if (!b.training || o.scale === 0 || o.prob === 0) return u;
  const c = u.shape[1]!;
  // gated by the coin: a batch left unjittered skips computing its noise
  const noise = b.randomInput(`${name}.noise`, u.shape, { kind: 'normal', gate: `${name}.apply` });
  const apply = b.randomInput(`${name}.apply`, [1, 1, 1, 1], { kind: 'bernoulli', p: o.prob });
  const norm = b.sqrt(b.sum(b.square(u), 1, true)); // [N, 1, H, W]
  // scale and coin on the per-pixel norm first: the full-size noise is multiplied once (and once
  // in the backward), where three multiplications of it were ~5% of the cpu preset's step
  const factor = b.mul(b.mul(norm, o.scale / c), apply);
  return b.add(u, b.mul(noise, factor));
}
