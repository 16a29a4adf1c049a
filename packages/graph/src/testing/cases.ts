/**
 * Conformance cases as data: every op on several shapes (odd sizes, broadcasting, asymmetric
 * padding, groups), each built with the GraphBuilder exactly as model code would. Every backend
 * runs all of them against `evaluateReference`; some carry closed-form values that pin the
 * reference itself.
 */
import { GraphBuilder } from '../builder.js';
import type { Graph, Sym } from '../graph.js';
import type { OpName } from '../ops/attrs.js';
import { createRng, hashString, type Rng } from '../rng.js';
import type { TensorData } from '../tensor-data.js';
import { EDGE_CASES } from './cases-edge.js';
import { uniform } from './uniform.js';

export { uniform };

export interface OpCase {
  /** "op/variant", unique. */
  readonly id: string;
  /** The op under test (every op has at least one case). */
  readonly op: OpName;
  /** Declares inputs and outputs. */
  build(b: GraphBuilder): void;
  /** Custom feeds; default: uniform in [-1, 1) for float inputs, drawn from the case's own seed. */
  readonly feeds?: (rng: Rng) => Record<string, TensorData>;
  /** Closed-form values of outputs, where they exist (checked against the reference). */
  readonly expected?: Readonly<Record<string, readonly number[]>>;
  /** Max relative error allowed against the reference (default 1e-5). */
  readonly tolerance?: number;
  /** False for ops without a useful gradient (comparisons, casts, sign). Default true. */
  readonly differentiable?: boolean;
}

const f32 = (shape: readonly number[], values: ArrayLike<number>): TensorData<'float32'> => ({
  dtype: 'float32',
  shape: [...shape],
  data: Float32Array.from(values),
});

/** The graph of a case and its feeds (deterministic per case id). */
export function caseGraph(c: OpCase): { graph: Graph; feeds: Record<string, TensorData> } {
  const b = new GraphBuilder();
  c.build(b);
  const graph = b.build();
  const rng = createRng(hashString(c.id, 1234));
  const feeds: Record<string, TensorData> = c.feeds ? c.feeds(rng) : {};
  for (const inp of graph.inputs.values()) {
    if (feeds[inp.name]) continue;
    if (inp.dtype !== 'float32') throw new Error(`case ${c.id}: non-float input "${inp.name}" needs explicit feeds`);
    feeds[inp.name] = uniform(rng, inp.shape);
  }
  return { graph, feeds };
}

const cases: OpCase[] = [];
function add(c: OpCase): void {
  cases.push(c);
}

type Build1 = (b: GraphBuilder, x: Sym) => Sym;
function unary(op: OpName, fn: Build1, shapes: number[][], range?: [number, number], differentiable = true): void {
  for (const shape of shapes) {
    add({
      id: `${op}/${shape.join('x')}`,
      op,
      differentiable,
      build: (b) => b.output('y', fn(b, b.input('x', shape))),
      ...(range ? { feeds: (rng: Rng) => ({ x: uniform(rng, shape, range[0], range[1]) }) } : {}),
    });
  }
}

// ---- unary -----------------------------------------------------------------------------------
const U = [[7], [2, 3, 5], [1, 4, 3, 3]];
unary('neg', (b, x) => b.neg(x), U);
unary('abs', (b, x) => b.abs(x), U);
unary('sign', (b, x) => b.sign(x), U, undefined, false);
unary('exp', (b, x) => b.exp(x), U, [-3, 3]);
unary('log', (b, x) => b.log(x), U, [0.05, 5]);
unary('sqrt', (b, x) => b.sqrt(x), U, [0.05, 5]);
unary('relu', (b, x) => b.relu(x), U);
unary('sigmoid', (b, x) => b.sigmoid(x), U, [-6, 6]);
unary('tanh', (b, x) => b.tanh(x), U, [-3, 3]);
unary('erf', (b, x) => b.erf(x), U, [-3, 3]);
unary('gelu', (b, x) => b.gelu(x), U, [-4, 4]);
unary('silu', (b, x) => b.silu(x), U, [-6, 6]);
unary('clip', (b, x) => b.clip(x, -0.3, 0.5), U);
add({
  id: 'erf/closed-form',
  op: 'erf',
  build: (b) => b.output('y', b.erf(b.input('x', [5]))),
  feeds: () => ({ x: f32([5], [0, 0.5, 1, -2, 3]) }),
  expected: { y: [0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527, 0.9999779095030014] },
});
add({
  id: 'gelu/closed-form',
  op: 'gelu',
  build: (b) => b.output('y', b.gelu(b.input('x', [3]))),
  feeds: () => ({ x: f32([3], [1, -1, 2]) }),
  expected: { y: [0.8413447460685429, -0.15865525393145707, 1.9544997361036416] },
});

// ---- casts and comparisons --------------------------------------------------------------------
add({
  id: 'cast/float-int-bool-float',
  op: 'cast',
  differentiable: false,
  build: (b) => {
    const x = b.input('x', [6]);
    b.output('i', b.cast(b.cast(x, 'int32'), 'float32'));
    b.output('t', b.cast(b.cast(x, 'bool'), 'float32'));
  },
  feeds: () => ({ x: f32([6], [-2.7, -0.5, 0, 0.5, 1.5, 3]) }),
  expected: { i: [-2, 0, 0, 0, 1, 3], t: [1, 1, 0, 1, 1, 1] },
});
for (const op of ['greater', 'less', 'equal'] as const) {
  add({
    id: `${op}/broadcast`,
    op,
    differentiable: false,
    build: (b) => {
      const x = b.input('x', [2, 3, 4]);
      const y = b.input('y', [3, 1]);
      b.output('z', b.cast(b[op](x, y), 'float32'));
    },
    feeds: (rng) => {
      // small integers so equality happens
      const x = f32(
        [2, 3, 4],
        Array.from({ length: 24 }, () => rng.int(3)),
      );
      const y = f32([3, 1], [0, 1, 2]);
      return { x, y };
    },
  });
}
add({
  id: 'where/broadcast',
  op: 'where',
  build: (b) => {
    const x = b.input('x', [2, 3, 4]);
    const y = b.input('y', [4]);
    b.output('z', b.where(b.greater(x, 0), x, b.mul(y, 2)));
  },
});

// ---- binary, broadcasting ----------------------------------------------------------------------
const BIN: Array<[number[], number[]]> = [
  [
    [2, 3, 5],
    [2, 3, 5],
  ],
  [[2, 3, 5], [5]],
  [
    [4, 1, 3],
    [1, 2, 1],
  ],
  [[3, 4], []],
];
for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'] as const) {
  for (const [sa, sb] of BIN) {
    const positive = op === 'pow' || op === 'div';
    add({
      id: `${op}/${sa.join('x')}-${sb.join('x') || 'scalar'}`,
      op,
      build: (b) => b.output('z', b[op](b.input('a', sa), b.input('b', sb))),
      ...(positive ? { feeds: (rng: Rng) => ({ a: uniform(rng, sa, op === 'pow' ? 0.2 : -1, 2), b: uniform(rng, sb, 0.3, 2) }) } : {}),
    });
  }
}

// ---- reductions ---------------------------------------------------------------------------------
for (const op of ['reduceSum', 'reduceMean', 'reduceMax'] as const) {
  const method = op === 'reduceSum' ? 'sum' : op === 'reduceMean' ? 'mean' : 'max';
  for (const [axes, keep] of [
    [[1], false],
    [[0, 2], true],
    [[0, 1, 2, 3], false],
    [[3], true],
  ] as Array<[number[], boolean]>) {
    add({
      id: `${op}/axes${axes.join('')}${keep ? '-keep' : ''}`,
      op,
      build: (b) => b.output('y', b[method](b.input('x', [2, 3, 5, 7]), axes, keep)),
    });
  }
}
add({
  id: 'reduceMean/global-pool',
  op: 'reduceMean',
  build: (b) => {
    const x = b.input('x', [2, 3, 4, 4]);
    b.output('avg', b.globalAvgPool(x));
    b.output('max', b.globalMaxPool(x));
  },
});

// ---- layout -------------------------------------------------------------------------------------
add({
  id: 'reshape/copy-and-infer',
  op: 'reshape',
  build: (b) => b.output('y', b.reshape(b.input('x', [2, 3, 4, 5]), [0, -1, 5])),
});
add({ id: 'transpose/4d', op: 'transpose', build: (b) => b.output('y', b.transpose(b.input('x', [2, 3, 4, 5]), [0, 2, 3, 1])) });
add({ id: 'transpose/3d', op: 'transpose', build: (b) => b.output('y', b.transpose(b.input('x', [3, 1, 7]), [2, 0, 1])) });
add({
  id: 'concat/axis1-three',
  op: 'concat',
  build: (b) => b.output('y', b.concat([b.input('a', [2, 3, 4]), b.input('b', [2, 1, 4]), b.input('c', [2, 5, 4])], 1)),
});
add({ id: 'concat/last-axis', op: 'concat', build: (b) => b.output('y', b.concat([b.input('a', [3, 2]), b.input('b', [3, 3])], -1)) });
add({
  id: 'slice/steps',
  op: 'slice',
  build: (b) => {
    const x = b.input('x', [2, 5, 9, 7]);
    b.output('y', b.slice(b.slice(x, 2, 1, 8, 2), 3, 0, -1, 3));
    b.output('z', b.slice(x, 1, -2));
  },
});
add({
  id: 'slice/closed-form',
  op: 'slice',
  build: (b) => b.output('y', b.slice(b.input('x', [10]), 0, 1, 9, 3)),
  feeds: () => ({ x: f32([10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }),
  expected: { y: [1, 4, 7] },
});
add({
  id: 'pad/constant-asymmetric',
  op: 'pad',
  build: (b) => b.output('y', b.pad2d(b.input('x', [2, 3, 5, 4]), [1, 0, 2, 3], 'constant', 0.25)),
});
add({
  id: 'pad/reflect',
  op: 'pad',
  build: (b) => b.output('y', b.pad2d(b.input('x', [1, 2, 5, 6]), [2, 1, 1, 3], 'reflect')),
});
add({
  id: 'pad/reflect-closed-form',
  op: 'pad',
  build: (b) => b.output('y', b.pad(b.input('x', [3]), [2, 2], 'reflect')),
  feeds: () => ({ x: f32([3], [1, 2, 3]) }),
  expected: { y: [3, 2, 1, 2, 3, 2, 1] },
});
add({ id: 'broadcastTo/expand', op: 'broadcastTo', build: (b) => b.output('y', b.broadcastTo(b.input('x', [3, 1, 5]), [2, 3, 4, 5])) });

// ---- matmul -------------------------------------------------------------------------------------
for (const [sa, sb] of [
  [
    [5, 7],
    [7, 3],
  ],
  [
    [2, 5, 7],
    [2, 7, 3],
  ],
  [
    [2, 4, 5, 7],
    [7, 6],
  ],
  [
    [3, 1, 5, 7],
    [1, 4, 7, 2],
  ],
] as Array<[number[], number[]]>) {
  add({ id: `matmul/${sa.join('x')}@${sb.join('x')}`, op: 'matmul', build: (b) => b.output('y', b.matmul(b.input('a', sa), b.input('b', sb))) });
}

// ---- convolution --------------------------------------------------------------------------------
interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  stride?: [number, number];
  pads?: [number, number, number, number] | 'same';
  dilation?: [number, number];
  groups?: number;
  tolerance?: number;
}
const CONVS: ConvCase[] = [
  { name: '3x3-pad1-bias', x: [2, 3, 7, 6], w: [4, 3, 3, 3], bias: true, pads: [1, 1, 1, 1] },
  { name: '1x1', x: [1, 5, 4, 3], w: [6, 5, 1, 1] },
  { name: 'stride2-tf-same', x: [1, 3, 9, 8], w: [5, 3, 3, 3], stride: [2, 2], pads: 'same' },
  { name: 'stride2-5x5-asym', x: [1, 2, 11, 10], w: [3, 2, 5, 5], stride: [2, 2], pads: [1, 2, 2, 1] },
  { name: 'dilation2', x: [1, 2, 9, 9], w: [3, 2, 3, 3], dilation: [2, 2], pads: [2, 2, 2, 2] },
  { name: 'depthwise', x: [2, 4, 7, 7], w: [4, 1, 3, 3], groups: 4, bias: true, pads: [1, 1, 1, 1] },
  { name: 'depthwise-stride2-same', x: [1, 6, 10, 9], w: [6, 1, 5, 5], groups: 6, stride: [2, 2], pads: 'same' },
  { name: 'grouped', x: [1, 6, 5, 5], w: [4, 3, 3, 3], groups: 2, pads: [1, 1, 1, 1] },
  { name: 'rect-kernel-stride', x: [1, 3, 8, 9], w: [2, 3, 3, 1], stride: [1, 2] },
  { name: '7x7-pad3', x: [1, 2, 7, 7], w: [1, 2, 7, 7], bias: true, pads: [3, 3, 3, 3] },
  // the weight-gradient formulations of autodiff's windowCorrelation: shifted products (stride 1,
  // rows >= 2 * kernel span) with uneven pads, dilation and a rectangular kernel, and with the
  // images in the GEMM's rows; channel-major im2col (stride 1, the weight outweighs the maps);
  // patches (kernel = stride)
  { name: 'stride1-3x2-asym-pads', x: [2, 3, 9, 8], w: [4, 3, 3, 2], pads: [2, 0, 1, 1] },
  // left pads longer than the bottom ones: the padded map's last values run past its rows
  { name: 'stride1-left-pads-no-bottom', x: [2, 2, 8, 6], w: [3, 2, 3, 3], pads: [1, 2, 0, 0] },
  // its backward case's scalar loss (288 products with random cotangents) cancels to 3e-5 relative in float32
  { name: 'stride1-dilation2-valid', x: [2, 2, 12, 10], w: [3, 2, 3, 3], dilation: [2, 2], tolerance: 1e-4 },
  { name: 'stride1-images-in-gemm-rows', x: [5, 17, 4, 4], w: [17, 17, 3, 3], pads: [1, 1, 1, 1] },
  { name: 'stride1-many-channels-few-pixels', x: [2, 17, 4, 4], w: [17, 17, 3, 3], pads: [1, 1, 1, 1] },
  { name: 'stride1-channel-major-dilated-asym', x: [1, 8, 5, 4], w: [8, 8, 3, 2], pads: [2, 0, 1, 1], dilation: [2, 1] },
  { name: 'patch-4x4-stride4', x: [2, 3, 8, 12], w: [5, 3, 4, 4], stride: [4, 4], bias: true },
  { name: 'patch-2x3-one-image', x: [1, 2, 6, 9], w: [3, 2, 2, 3], stride: [2, 3] },
];
for (const c of CONVS) {
  add({
    id: `conv2d/${c.name}`,
    op: 'conv2d',
    ...(c.tolerance ? { tolerance: c.tolerance } : {}),
    build: (b) => {
      const x = b.input('x', c.x);
      const w = b.input('w', c.w);
      const bias = c.bias ? b.input('bias', [c.w[0]!]) : null;
      b.output(
        'y',
        b.conv2d(x, w, bias, {
          ...(c.stride ? { stride: c.stride } : {}),
          ...(c.dilation ? { dilation: c.dilation } : {}),
          ...(c.groups ? { groups: c.groups } : {}),
          ...(c.pads ? { padding: c.pads } : {}),
        }),
      );
    },
  });
}
add({
  id: 'conv2d/closed-form-box',
  op: 'conv2d',
  build: (b) => b.output('y', b.conv2d(b.input('x', [1, 1, 3, 3]), b.input('w', [1, 1, 2, 2]), null, {})),
  feeds: () => ({ x: f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), w: f32([1, 1, 2, 2], [1, 1, 1, 1]) }),
  expected: { y: [12, 16, 24, 28] },
});
interface ConvTCase {
  name: string;
  x: number[];
  w: number[];
  stride: [number, number];
  pads: [number, number, number, number];
  outPad?: [number, number];
  dilation?: [number, number];
  groups?: number;
  bias?: boolean;
}
const CONVTS: ConvTCase[] = [
  { name: 'stride2-k3-pad1-outpad1', x: [2, 3, 4, 5], w: [3, 2, 3, 3], stride: [2, 2], pads: [1, 1, 1, 1], outPad: [1, 1], bias: true },
  { name: 'stride1-k3', x: [1, 2, 5, 5], w: [2, 4, 3, 3], stride: [1, 1], pads: [1, 1, 1, 1] },
  { name: 'depthwise-stride2-asym', x: [1, 4, 5, 4], w: [4, 1, 5, 5], stride: [2, 2], pads: [1, 2, 2, 1], groups: 4 },
  { name: 'grouped-dilated', x: [1, 4, 4, 4], w: [4, 3, 3, 3], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [2, 2], groups: 2 },
];
for (const c of CONVTS) {
  add({
    id: `convTranspose2d/${c.name}`,
    op: 'convTranspose2d',
    build: (b) => {
      const x = b.input('x', c.x);
      const w = b.input('w', c.w);
      const bias = c.bias ? b.input('bias', [c.w[1]! * (c.groups ?? 1)]) : null;
      b.output(
        'y',
        b.convTranspose2d(x, w, bias, {
          strides: c.stride,
          pads: c.pads,
          dilations: c.dilation ?? [1, 1],
          groups: c.groups ?? 1,
          outputPadding: c.outPad ?? [0, 0],
        }),
      );
    },
  });
}

// ---- pooling and resize -------------------------------------------------------------------------
add({
  id: 'avgPool2d/3x3-s2-pad1-include',
  op: 'avgPool2d',
  build: (b) => b.output('y', b.avgPool2d(b.input('x', [2, 3, 9, 8]), 3, { stride: 2, padding: 1, countIncludePad: true })),
});
add({
  id: 'avgPool2d/3x3-s1-pad1-exclude',
  op: 'avgPool2d',
  build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 2, 5, 6]), 3, { stride: 1, padding: 1, countIncludePad: false })),
});
add({ id: 'avgPool2d/2x2', op: 'avgPool2d', build: (b) => b.output('y', b.avgPool2d(b.input('x', [1, 3, 6, 6]), 2)) });
add({ id: 'maxPool2d/3x3-s2-pad1', op: 'maxPool2d', build: (b) => b.output('y', b.maxPool2d(b.input('x', [2, 3, 9, 8]), 3, { stride: 2, padding: 1 })) });
add({ id: 'maxPool2d/2x2', op: 'maxPool2d', build: (b) => b.output('y', b.maxPool2d(b.input('x', [1, 2, 6, 7]), 2)) });
for (const [name, inHW, outHW, align] of [
  ['up2-half-pixel', [5, 4], [10, 8], false],
  ['up-odd-half-pixel', [3, 5], [7, 11], false],
  ['down-half-pixel', [9, 8], [4, 3], false],
  ['up2-align', [5, 4], [10, 8], true],
  ['up-odd-align', [3, 5], [7, 11], true],
  ['down-align', [9, 8], [4, 3], true],
] as Array<[string, [number, number], [number, number], boolean]>) {
  add({
    id: `resizeBilinear/${name}`,
    op: 'resizeBilinear',
    build: (b) => b.output('y', b.resizeBilinear(b.input('x', [2, 3, ...inHW]), outHW, align)),
  });
}
add({
  id: 'resizeBilinear/closed-form-align',
  op: 'resizeBilinear',
  build: (b) => b.output('y', b.resizeBilinear(b.input('x', [1, 1, 1, 3]), [1, 5], true)),
  feeds: () => ({ x: f32([1, 1, 1, 3], [0, 2, 4]) }),
  expected: { y: [0, 1, 2, 3, 4] },
});
add({
  id: 'resizeBilinear/closed-form-half-pixel',
  op: 'resizeBilinear',
  build: (b) => b.output('y', b.resizeBilinear(b.input('x', [1, 1, 1, 2]), [1, 4], false)),
  feeds: () => ({ x: f32([1, 1, 1, 2], [0, 4]) }),
  // sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel)
  expected: { y: [0, 1, 3, 4] },
});

// ---- normalisation and friends ------------------------------------------------------------------
add({ id: 'softmax/last', op: 'softmax', build: (b) => b.output('y', b.softmax(b.input('x', [2, 3, 7]), -1)) });
add({ id: 'softmax/axis1', op: 'softmax', build: (b) => b.output('y', b.softmax(b.input('x', [2, 5, 3]), 1)) });
// masked (attention's dropout): the softmax rule reuses the forward's y * m
add({
  id: 'softmax/masked',
  op: 'softmax',
  build: (b) => b.output('y', b.mul(b.softmax(b.input('x', [2, 3, 7]), -1), b.input('m', [2, 3, 7]))),
});
add({
  id: 'softmax/masked-broadcast',
  op: 'softmax',
  build: (b) => b.output('y', b.mul(b.softmax(b.input('x', [2, 3, 7]), 1), b.input('m', [3, 1]))),
});
add({
  id: 'softmax/masked-and-used',
  op: 'softmax',
  build: (b) => {
    const y = b.softmax(b.input('x', [2, 3, 7]), -1);
    b.output('masked', b.mul(y, b.input('m', [2, 3, 7])));
    b.output('y', y);
  },
});
add({
  id: 'softmax/closed-form',
  op: 'softmax',
  build: (b) => b.output('y', b.softmax(b.input('x', [1, 4]), -1)),
  feeds: () => ({ x: f32([1, 4], [7, 7, 7, 7]) }),
  expected: { y: [0.25, 0.25, 0.25, 0.25] },
});
add({
  id: 'layerNorm/tokens',
  op: 'layerNorm',
  build: (b) => b.output('y', b.layerNorm(b.input('x', [2, 7, 12]), b.input('g', [12]), b.input('b', [12]))),
});
add({
  id: 'layerNorm/closed-form',
  op: 'layerNorm',
  build: (b) => b.output('y', b.layerNorm(b.input('x', [1, 4]), b.input('g', [4]), b.input('b', [4]), 0)),
  feeds: () => ({ x: f32([1, 4], [1, 2, 3, 4]), g: f32([4], [1, 1, 1, 1]), b: f32([4], [0, 0, 0, 0]) }),
  // mean 2.5, biased variance 1.25
  expected: { y: [-1.5 / Math.sqrt(1.25), -0.5 / Math.sqrt(1.25), 0.5 / Math.sqrt(1.25), 1.5 / Math.sqrt(1.25)] },
});
add({
  id: 'groupNorm/4-groups',
  op: 'groupNorm',
  build: (b) => b.output('y', b.groupNorm(b.input('x', [2, 8, 5, 3]), b.input('g', [8]), b.input('b', [8]), 4)),
});
add({
  id: 'groupNorm/1-group-3d',
  op: 'groupNorm',
  build: (b) => b.output('y', b.groupNorm(b.input('x', [2, 6, 7]), b.input('g', [6]), b.input('b', [6]), 1)),
});
add({
  id: 'batchNorm/inference',
  op: 'batchNorm',
  build: (b) => b.output('y', b.batchNorm(b.input('x', [2, 5, 4, 3]), b.input('s', [5]), b.input('b', [5]), b.input('m', [5]), b.input('v', [5]), 1e-3)),
  feeds: (rng) => ({
    x: uniform(rng, [2, 5, 4, 3]),
    s: uniform(rng, [5]),
    b: uniform(rng, [5]),
    m: uniform(rng, [5]),
    v: uniform(rng, [5], 0.1, 2),
  }),
});
add({
  id: 'cosineSimilarity/channels',
  op: 'cosineSimilarity',
  build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [2, 6, 4, 5]), b.input('b', [2, 6, 4, 5]), 1)),
});
add({
  id: 'cosineSimilarity/broadcast-last',
  op: 'cosineSimilarity',
  build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [3, 5, 8]), b.input('b', [8]), -1)),
});
add({
  id: 'cosineSimilarity/closed-form',
  op: 'cosineSimilarity',
  build: (b) => b.output('y', b.cosineSimilarity(b.input('a', [2, 2]), b.input('b', [2, 2]), 1)),
  feeds: () => ({ a: f32([2, 2], [1, 0, 3, 4]), b: f32([2, 2], [0, 2, 6, 8]) }),
  expected: { y: [0, 1] },
});

export const OP_CASES: readonly OpCase[] = [...cases, ...EDGE_CASES];
