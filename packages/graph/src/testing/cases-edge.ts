/**
 * Edge cases beyond the basic set, found while building the backends: paths that a backend
 * implements by hand (decomposed or hand-differentiated kernels, matmul resizes, composed cosine)
 * and the runtime bugs they work around (tfjs-wasm MaxPoolGrad on negative windows, Cast to bool,
 * stride with dilation). Every backend runs them with OP_CASES.
 */
import type { GraphBuilder } from '../builder.js';
import type { Rng } from '../rng.js';
import type { OpCase } from './cases.js';
import { uniform } from './uniform.js';

const f32 = (shape: number[], data: number[]) => ({ dtype: 'float32' as const, shape, data: Float32Array.from(data) });

function conv(id: string, x: number[], w: number[], options: Parameters<GraphBuilder['conv2d']>[3], bias = false): OpCase {
  return {
    id: `conv2d/${id}`,
    op: 'conv2d',
    build: (b) => b.output('y', b.conv2d(b.input('x', x), b.input('w', w), bias ? b.input('bias', [w[0]!]) : null, options)),
  };
}

function convT(id: string, x: number[], w: number[], attrs: Parameters<GraphBuilder['convTranspose2d']>[3], bias = false): OpCase {
  return {
    id: `convTranspose2d/${id}`,
    op: 'convTranspose2d',
    build: (b) => b.output('y', b.convTranspose2d(b.input('x', x), b.input('w', w), bias ? b.input('bias', [w[1]! * attrs.groups]) : null, attrs)),
  };
}

export const EDGE_CASES: readonly OpCase[] = [
  // tfjs refuses stride and dilation together and has no dilated-conv gradient: zero-dilated kernels.
  conv('stride2-dilation2-asym', [1, 3, 11, 10], [4, 3, 3, 3], { stride: 2, dilation: 2, padding: [2, 1, 1, 2] }, true),
  conv('groups3-stride2-same', [1, 6, 7, 8], [9, 2, 3, 3], { stride: 2, groups: 3, padding: 'same' }),
  conv('depthwise-multiplier2-dilated', [1, 3, 8, 8], [6, 1, 3, 3], { groups: 3, dilation: [2, 1], padding: 'same' }, true),
  conv('depthwise-stride2-1x1', [2, 4, 5, 5], [4, 1, 1, 1], { groups: 4, stride: 2 }),
  // outputPadding beyond pads + stride - 1 (only possible with dilation > stride): computed short, zero-padded.
  convT('dilation3-outpad2', [1, 2, 4, 5], [2, 3, 3, 3], { strides: [1, 1], pads: [0, 1, 0, 0], dilations: [3, 3], groups: 1, outputPadding: [2, 2] }),
  convT(
    'stride3x2-asym-outpad',
    [2, 2, 3, 4],
    [2, 2, 4, 3],
    { strides: [3, 2], pads: [2, 0, 1, 1], dilations: [1, 1], groups: 1, outputPadding: [1, 0] },
    true,
  ),
  convT('depthwise-stride2', [1, 3, 4, 4], [3, 2, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 3, outputPadding: [1, 1] }),
  {
    id: 'avgPool2d/same-exclude',
    op: 'avgPool2d',
    build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 2, 7, 6]), 3, { stride: 2, padding: 'same', countIncludePad: false })),
  },
  {
    id: 'avgPool2d/same-include',
    op: 'avgPool2d',
    build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 2, 7, 6]), 3, { stride: 2, padding: 'same', countIncludePad: true })),
  },
  // All-negative windows: pads must act as -inf, and tfjs-wasm's own MaxPoolGrad loses these.
  {
    id: 'maxPool2d/same-all-negative',
    op: 'maxPool2d',
    build: (b) => b.output('y', b.maxPool2d(b.input('x', [1, 2, 7, 6]), 3, { stride: 2, padding: 'same' })),
    feeds: (rng: Rng) => ({ x: uniform(rng, [1, 2, 7, 6], -2, -0.5) }),
  },
  {
    id: 'maxPool2d/overlapping-3x3-s1',
    op: 'maxPool2d',
    build: (b) => b.output('y', b.maxPool2d(b.input('x', [2, 2, 5, 6]), 3, { stride: 1, padding: 1 })),
  },
  { id: 'softmax/axis0', op: 'softmax', build: (b) => b.output('y', b.softmax(b.input('x', [4, 3, 2]), 0)) },
  {
    id: 'pad/reflect-two-axes',
    op: 'pad',
    build: (b) => b.output('y', b.pad(b.input('x', [2, 4, 5]), [0, 2, 1, 0, 1, 3], 'reflect')),
  },
  {
    id: 'matmul/rank2@rank4',
    op: 'matmul',
    build: (b) => b.output('y', b.matmul(b.input('a', [5, 7]), b.input('b', [2, 3, 7, 4]))),
  },
  {
    id: 'resizeBilinear/down-odd',
    op: 'resizeBilinear',
    build: (b) => {
      const x = b.input('x', [2, 2, 11, 7]);
      b.output('half', b.resizeBilinear(x, [4, 5], false));
      b.output('align', b.resizeBilinear(x, [3, 2], true));
    },
  },
  {
    id: 'resizeBilinear/to-1x1',
    op: 'resizeBilinear',
    build: (b) => {
      const x = b.input('x', [1, 2, 4, 5]);
      b.output('half', b.resizeBilinear(x, [1, 1], false));
      b.output('align', b.resizeBilinear(x, [1, 1], true));
    },
  },
  {
    id: 'groupNorm/instance',
    op: 'groupNorm',
    build: (b) => b.output('y', b.groupNorm(b.input('x', [2, 3, 4, 5]), b.input('g', [3]), b.input('b', [3]), 3)),
  },
  // Casts to int truncate toward zero; to bool are "!= 0" (tfjs-wasm's Cast to bool keeps the low byte).
  {
    id: 'cast/int-bool-chain',
    op: 'cast',
    differentiable: false,
    build: (b) => {
      const x = b.input('x', [8]);
      b.output('bool', b.cast(b.cast(x, 'bool'), 'float32'));
      b.output('intbool', b.cast(b.cast(b.cast(x, 'int32'), 'bool'), 'float32'));
      b.output('int', b.cast(b.cast(x, 'int32'), 'float32'));
    },
    feeds: () => ({ x: f32([8], [-2.7, -0.5, 0, 0.5, 1.5, 3, 256, -256.5]) }),
    expected: { bool: [1, 1, 0, 1, 1, 1, 1, 1], intbool: [1, 0, 0, 0, 1, 1, 1, 1], int: [-2, 0, 0, 0, 1, 3, 256, -256] },
  },
  {
    id: 'where/int-branches',
    op: 'where',
    differentiable: false,
    build: (b) => {
      const x = b.input('x', [2, 3]);
      const y = b.input('y', [3]);
      const a = b.cast(b.mul(x, 10), 'int32');
      const c = b.cast(b.mul(y, -10), 'int32');
      b.output('z', b.cast(b.where(b.less(x, y), a, c), 'float32'));
    },
  },
  {
    id: 'slice/bool-steps',
    op: 'slice',
    differentiable: false,
    build: (b) => b.output('y', b.cast(b.slice(b.greater(b.input('x', [5, 9]), 0), 1, 1, 9, 3), 'float32')),
  },
  // A zero vector: the eps clamp gives 0 (the gradient there is ~1/eps, so only values are checked).
  {
    id: 'cosineSimilarity/zero-vector',
    op: 'cosineSimilarity',
    differentiable: false,
    build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [3, 4]), b.input('b', [3, 4]), 1)),
    feeds: () => ({ a: f32([3, 4], [0, 0, 0, 0, 1, 2, 3, 4, -1, 0, 1, 0]), b: f32([3, 4], [1, 1, 1, 1, 2, 4, 6, 8, 1, 0, -1, 0]) }),
    expected: { y: [0, 1, -1] },
  },
  // lowering paths of the ONNX backend

  { id: 'resizeBilinear/width-only', op: 'resizeBilinear', build: (b) => b.output('y', b.resizeBilinear(b.input('x', [1, 2, 5, 4]), [5, 9], false)) },
  { id: 'resizeBilinear/height-only-align', op: 'resizeBilinear', build: (b) => b.output('y', b.resizeBilinear(b.input('x', [1, 2, 5, 4]), [3, 4], true)) },
  { id: 'resizeBilinear/to-one-pixel', op: 'resizeBilinear', build: (b) => b.output('y', b.resizeBilinear(b.input('x', [2, 1, 6, 5]), [1, 1], true)) },
  { id: 'resizeBilinear/to-one-pixel-half', op: 'resizeBilinear', build: (b) => b.output('y', b.resizeBilinear(b.input('x', [2, 1, 6, 5]), [1, 2], false)) },
  {
    id: 'resizeBilinear/large-down-rows-first',
    op: 'resizeBilinear',
    build: (b) => b.output('y', b.resizeBilinear(b.input('x', [1, 1, 64, 7]), [5, 30], false)),
  },
  {
    id: 'cosineSimilarity/size-1-on-axis',
    op: 'cosineSimilarity',
    // The operand broadcast along the reduced axis has an identically zero gradient (its fibre is
    // constant); float32 backends return cancellation noise there, so only values are checked.
    differentiable: false,
    build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [2, 1, 4]), b.input('b', [2, 5, 4]), 1)),
  },
  {
    id: 'cosineSimilarity/lower-rank-without-axis',
    op: 'cosineSimilarity',
    // The operand broadcast along the reduced axis has an identically zero gradient (its fibre is
    // constant); float32 backends return cancellation noise there, so only values are checked.
    differentiable: false,
    build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [5, 8]), b.input('b', [3, 5, 8]), 0)),
  },
  {
    id: 'avgPool2d/same-stride2-even',
    op: 'avgPool2d',
    build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 2, 8, 6]), 3, { stride: 2, padding: 'same', countIncludePad: false })),
  },
  {
    id: 'avgPool2d/same-stride2-include',
    op: 'avgPool2d',
    build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 2, 8, 6]), 3, { stride: 2, padding: 'same', countIncludePad: true })),
  },
  {
    id: 'maxPool2d/same-stride2-even',
    op: 'maxPool2d',
    build: (b) => b.output('y', b.maxPool2d(b.input('x', [1, 2, 8, 6]), 3, { stride: 2, padding: 'same' })),
  },
  {
    id: 'where/cond-broadcast',
    op: 'where',
    build: (b) => b.output('y', b.where(b.less(b.input('c', [4]), 0), b.input('a', [3, 1]), b.input('b', [2, 3, 4]))),
  },
];
