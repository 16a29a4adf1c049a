import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dFilterGradient } from './wasm-gradients.js';
import { maxRelError as maxRel } from '@unias/graph/testing';
import { numTensors, useRuntime, values } from './testing/utils.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  readonly name: string;
  readonly x: [number, number, number, number];
  readonly k: [number, number];
  readonly strides: [number, number];
  readonly pad: Pad;
}

const CASES: Case[] = [
  { name: 'stride 1 same', x: [2, 7, 6, 3], k: [3, 3], strides: [1, 1], pad: 'same' },
  { name: 'stride 1 valid', x: [2, 7, 6, 3], k: [3, 3], strides: [1, 1], pad: 'valid' },
  { name: 'stride 2 same', x: [2, 7, 6, 3], k: [3, 3], strides: [2, 2], pad: 'same' },
  { name: 'stride 2 valid', x: [1, 9, 8, 4], k: [3, 3], strides: [2, 2], pad: 'valid' },
  { name: 'stride [2,1], 1x3 kernel', x: [2, 6, 7, 2], k: [1, 3], strides: [2, 1], pad: 'same' },
  {
    name: 'explicit asymmetric pads',
    x: [2, 6, 5, 3],
    k: [3, 2],
    strides: [2, 2],
    pad: [
      [0, 0],
      [0, 1],
      [1, 0],
      [0, 0],
    ],
  },
  { name: '5x5 stride 2 same (even input)', x: [1, 8, 8, 2], k: [5, 5], strides: [2, 2], pad: 'same' },
];

type GradFn = (x: tf.Tensor4D, f: tf.Tensor4D) => tf.Tensor;

/** Gradients of sum(op(x, f) * r) on a backend (r makes dy non-uniform). */
async function grads(backend: 'cpu' | 'tfjs-wasm', c: Case, filterShape: [number, number, number, number], op: GradFn): Promise<Float32Array[]> {
  await useRuntime(backend === 'cpu' ? 'tfjs-cpu' : 'tfjs-wasm');
  return tf.tidy(() => {
    const x = tf.tensor4d(
      values(
        c.x.reduce((p, d) => p * d, 1),
        1,
      ),
      c.x,
    );
    const f = tf.tensor4d(
      values(
        filterShape.reduce((p, d) => p * d, 1),
        2,
      ),
      filterShape,
    );
    const shape = op(x, f).shape;
    const r = tf.tensor(
      values(
        shape.reduce((p, d) => p * d, 1),
        3,
      ),
      shape,
    );
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), r)));
    return g([x, f]).map((t) => Float32Array.from(t.dataSync()));
  });
}

describe("wasm gradient kernels match the cpu backend's native gradients", () => {
  beforeAll(async () => {
    await useRuntime('tfjs-wasm');
  });
  afterAll(async () => {
    await useRuntime('tfjs-cpu');
  });

  /** wasm's gradients (dx, df) equal cpu's native ones to 1e-5, and leak no tensors. */
  async function expectWasmMatchesCpu(c: Case, filterShape: [number, number, number, number], op: GradFn): Promise<void> {
    const want = await grads('cpu', c, filterShape, op);
    const before = numTensors();
    const got = await grads('tfjs-wasm', c, filterShape, op);
    expect(numTensors()).toBe(before);
    expect(maxRel(got[0]!, want[0]!)).toBeLessThanOrEqual(1e-5);
    expect(maxRel(got[1]!, want[1]!)).toBeLessThanOrEqual(1e-5);
  }

  for (const c of CASES) {
    it(`conv2d, ${c.name}`, async () => {
      await expectWasmMatchesCpu(c, [c.k[0], c.k[1], c.x[3], 5], (x, f) => tf.conv2d(x, f, c.strides, c.pad));
    });

    for (const multiplier of [1, 2]) {
      it(`depthwiseConv2d, ${c.name}, multiplier ${multiplier}`, async () => {
        await expectWasmMatchesCpu(c, [c.k[0], c.k[1], c.x[3], multiplier], (x, f) => tf.depthwiseConv2d(x, f, c.strides, c.pad));
      });
    }
  }
});

/**
 * Dilation never reaches these kernels through tf.grads (tfjs's depthwise gradient refuses
 * dilation > 1), and the cpu backend's DepthwiseConv2dNativeBackpropFilter ignores dilation, so
 * the truth here is a float64 loop over the definition, with the kernels invoked directly.
 */
describe('depthwise backprop kernels with dilation, against a float64 definition', () => {
  const [n, h, w, c, m] = [2, 9, 8, 3, 2];
  const [kh, kw, dh, dw, sh, sw] = [3, 2, 2, 3, 1, 1];
  const [pt, pb, pl, pr] = [2, 1, 1, 2];
  const oh = Math.floor((h + pt + pb - (dh * (kh - 1) + 1)) / sh) + 1;
  const ow = Math.floor((w + pl + pr - (dw * (kw - 1) + 1)) / sw) + 1;
  const xv = values(n * h * w * c, 4);
  const fv = values(kh * kw * c * m, 5);
  const dyv = values(n * oh * ow * c * m, 6);
  const attrs = {
    strides: [sh, sw],
    dilations: [dh, dw],
    pad: [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ],
  };

  function reference(): { dx: Float64Array; dw: Float64Array } {
    const dx = new Float64Array(n * h * w * c);
    const dW = new Float64Array(kh * kw * c * m);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++)
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const y = i * sh + p * dh - pt;
              const x = j * sw + q * dw - pl;
              if (y < 0 || y >= h || x < 0 || x >= w) continue;
              for (let ch = 0; ch < c; ch++)
                for (let k = 0; k < m; k++) {
                  const g = dyv[((b * oh + i) * ow + j) * c * m + ch * m + k]!;
                  const xi = ((b * h + y) * w + x) * c + ch;
                  const fi = ((p * kw + q) * c + ch) * m + k;
                  dx[xi]! += g * fv[fi]!;
                  dW[fi]! += g * xv[xi]!;
                }
            }
    return { dx, dw: dW };
  }

  it('DepthwiseConv2dNativeBackpropInput and ...BackpropFilter on wasm', async () => {
    await useRuntime('tfjs-wasm');
    const ref = reference();
    const before = numTensors();
    const [dx, dW] = tf.tidy(() => {
      const x = tf.tensor4d(xv, [n, h, w, c]);
      const f = tf.tensor4d(fv, [kh, kw, c, m]);
      const dy = tf.tensor4d(dyv, [n, oh, ow, c * m]);
      const gx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: [n, h, w, c] });
      const gw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: [kh, kw, c, m] });
      return [gx, gw].map((t) => Float32Array.from((t as tf.Tensor).dataSync()));
    });
    expect(numTensors()).toBe(before);
    expect(maxRel(dx!, ref.dx)).toBeLessThanOrEqual(1e-5);
    expect(maxRel(dW!, ref.dw)).toBeLessThanOrEqual(1e-5);
    await useRuntime('tfjs-cpu');
  });
});

describe('conv2d filter gradient strategies', () => {
  it('im2col and per-tap agree with the cpu kernel (stride 2, asymmetric pads)', async () => {
    const xs: [number, number, number, number] = [2, 9, 8, 3];
    const fs: [number, number, number, number] = [3, 2, 3, 4];
    const ds: [number, number, number, number] = [2, 4, 4, 4];
    const pad: Pad = [
      [0, 0],
      [1, 0],
      [0, 1],
      [0, 0],
    ];
    const attrs = { strides: [2, 2], pad, dataFormat: 'NHWC', filterShape: fs };
    const make = () => [tf.tensor4d(values(2 * 9 * 8 * 3, 7), xs), tf.tensor4d(values(2 * 4 * 4 * 4, 8), ds)] as const;
    await useRuntime('tfjs-cpu');
    const want = tf.tidy(() => {
      const [x, dy] = make();
      return Float32Array.from((tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dataSync());
    });
    await useRuntime('tfjs-wasm');
    const info = tf.backend_util.computeConv2DInfo(xs, fs, 2, 1, pad);
    for (const strategy of ['im2col', 'taps'] as const) {
      const got = tf.tidy(() => {
        const [x, dy] = make();
        return Float32Array.from(conv2dFilterGradient(x, dy, info, strategy).dataSync());
      });
      expect(maxRel(got, want), strategy).toBeLessThanOrEqual(1e-5);
    }
    await useRuntime('tfjs-cpu');
  });
});
