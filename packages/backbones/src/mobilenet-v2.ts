/**
 * MobileNetV2 (alpha 1.0) with the Keras Applications layer names (`Conv1`, `bn_Conv1`,
 * `expanded_conv_depthwise`, `block_1_expand`, ..., `Conv_1`, `Logits`) as the parameter scopes,
 * PyTorch-style tensors under them (`Conv1.weight` OIHW, `bn_Conv1.running_mean`, ...).
 * Keras semantics: ReLU6, batch-norm eps 1e-3, and the padding of Keras 2.2.4's model
 * (an explicit ZeroPadding2D of one row/column at the bottom/right before each stride-2 conv, which
 * is then 'valid'; 'same' elsewhere), kept whatever the input size.
 */
import type { GraphBuilder, Sym } from '@unias/graph';
import { checkImage, pickTaps, resolveTaps, type Backbone, type TapSpec } from './backbone.js';
import { frozenBatchNorm, frozenConv, frozenLinear, poolFlatten } from './layers.js';
import { MOBILENET_V2_NSFWJS_WEIGHTS } from './pretrained/nsfwjs-mobilenet-v2.js';

const BN_EPS = 1e-3;
const NUM_CLASSES = 1000;

interface InvertedResidual {
  readonly filters: number;
  readonly stride: number;
  readonly expansion: number;
}

/** Keras Applications' 17 inverted-residual blocks (block 0 is `expanded_conv`). */
export const MOBILENET_V2_BLOCKS: readonly InvertedResidual[] = [
  { filters: 16, stride: 1, expansion: 1 },
  { filters: 24, stride: 2, expansion: 6 },
  { filters: 24, stride: 1, expansion: 6 },
  { filters: 32, stride: 2, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 64, stride: 2, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 160, stride: 2, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 320, stride: 1, expansion: 6 },
];

const relu6 = (b: GraphBuilder, x: Sym) => b.clip(x, 0, 6);

/** Keras 2.2.4: ZeroPadding2D(((0, 1), (0, 1))) then a 'valid' stride-2 conv. */
const STRIDE2_PAD = [0, 0, 1, 1] as const;

function blockPrefix(id: number): string {
  return id === 0 ? 'expanded_conv_' : `block_${id}_`;
}

/** Named outputs of every layer a tap may use: `<prefix>project_BN`, `<prefix>add`. */
function invertedResidual(b: GraphBuilder, x: Sym, id: number, a: InvertedResidual, feats: Map<string, Sym>): Sym {
  const p = blockPrefix(id);
  const inC = x.shape[1]!;
  const inputs = x;
  if (id > 0) {
    x = frozenConv(b, `${p}expand`, x, { out: inC * a.expansion, kernel: 1 });
    x = relu6(b, frozenBatchNorm(b, `${p}expand_BN`, x, BN_EPS));
  }
  const hidden = x.shape[1]!;
  x = frozenConv(b, `${p}depthwise`, x, {
    out: hidden,
    kernel: 3,
    stride: a.stride,
    groups: hidden,
    padding: a.stride === 2 ? [...STRIDE2_PAD] : 1,
  });
  x = relu6(b, frozenBatchNorm(b, `${p}depthwise_BN`, x, BN_EPS));
  x = frozenConv(b, `${p}project`, x, { out: a.filters, kernel: 1 });
  x = frozenBatchNorm(b, `${p}project_BN`, x, BN_EPS);
  feats.set(`${p}project_BN`, x);
  if (a.stride === 1 && inC === a.filters) {
    x = b.add(inputs, x);
    feats.set(`${p}add`, x);
  }
  return x;
}

/** Taps: UniAS's four (within the layers nsfwjs kept frozen, Conv1..block_10) and Keras layer outputs. */
const TAPS: readonly TapSpec[] = [
  { name: 'res1', channels: 16, stride: 2, description: 'expanded_conv_project_BN' },
  { name: 'res2', channels: 24, stride: 4, description: 'block_2_add' },
  { name: 'res3', channels: 32, stride: 8, description: 'block_5_add' },
  { name: 'res4', channels: 96, stride: 16, description: 'block_10_project_BN' },
  { name: 'Conv1_relu', channels: 32, stride: 2, description: 'Conv1 -> bn_Conv1 -> ReLU6' },
  { name: 'expanded_conv_project_BN', channels: 16, stride: 2, description: 'end of stage 1 (= res1)' },
  { name: 'block_2_add', channels: 24, stride: 4, description: 'end of stage 2 (= res2)' },
  { name: 'block_5_add', channels: 32, stride: 8, description: 'end of stage 3 (= res3)' },
  { name: 'block_9_add', channels: 64, stride: 16, description: 'end of stage 4' },
  { name: 'block_10_project_BN', channels: 96, stride: 16, description: 'last frozen layer of the nsfwjs model (= res4)' },
  { name: 'block_12_add', channels: 96, stride: 16, description: 'end of stage 5' },
  { name: 'block_15_add', channels: 160, stride: 32, description: 'end of stage 6' },
  { name: 'block_16_project_BN', channels: 320, stride: 32, description: 'end of stage 7' },
  { name: 'out_relu', channels: 1280, stride: 32, description: 'Conv_1 -> Conv_1_bn -> ReLU6' },
];

const UNIAS_TAPS: Readonly<Record<string, string>> = {
  res1: 'expanded_conv_project_BN',
  res2: 'block_2_add',
  res3: 'block_5_add',
  res4: 'block_10_project_BN',
};

export const MOBILENET_V2: Backbone = {
  id: 'mobilenet_v2',
  description: 'MobileNetV2 (alpha 1.0), Keras Applications layer names; default weights: ImageNet layers of the nsfwjs model',
  taps: TAPS,
  defaultTaps: ['res1', 'res2', 'res3', 'res4'],
  // The nsfwjs model feeds RGB / 255 (no further scaling), and the stored batch-norm statistics
  // of bn_Conv1 match that input range (see the README), so the image goes in as [0, 1].
  inputNormalization: { mean: [0, 0, 0], std: [1, 1, 1] },
  nativeResolution: 224,
  weightLayout: 'keras',
  defaultWeights: MOBILENET_V2_NSFWJS_WEIGHTS,
  build(b, image, options = {}) {
    checkImage('mobilenet_v2', image);
    const taps = resolveTaps(MOBILENET_V2, options.taps);
    const feats = new Map<string, Sym>();
    let x = frozenConv(b, 'Conv1', image, { out: 32, kernel: 3, stride: 2, padding: [...STRIDE2_PAD] });
    x = relu6(b, frozenBatchNorm(b, 'bn_Conv1', x, BN_EPS));
    feats.set('Conv1_relu', x);
    MOBILENET_V2_BLOCKS.forEach((a, id) => {
      x = invertedResidual(b, x, id, a, feats);
    });
    x = frozenConv(b, 'Conv_1', x, { out: 1280, kernel: 1 });
    x = relu6(b, frozenBatchNorm(b, 'Conv_1_bn', x, BN_EPS));
    feats.set('out_relu', x);
    // Keras Applications' classifier (its softmax is left out: the output would be logits).
    frozenLinear(b, 'Logits', poolFlatten(b, x), NUM_CLASSES);
    for (const [tap, layer] of Object.entries(UNIAS_TAPS)) feats.set(tap, feats.get(layer)!);
    return pickTaps(MOBILENET_V2, feats, taps);
  },
};
