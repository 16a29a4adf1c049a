/**
 * EfficientNet-B0..B4 with the parameter names of lukemelas' `efficientnet_pytorch` (the layout
 * the official UniAS code loads), and its static TF-"same" padding: every convolution pads as
 * TensorFlow would for the variant's native resolution, and keeps that padding whatever the
 * actual input size (`Conv2dStaticSamePadding`).
 */
import { samePadding, type GraphBuilder, type Pads2d, type Sym } from '@unias/graph';
import { IMAGENET_NORMALIZATION, checkImage, pickTaps, resolveTaps, type Backbone, type TapSpec } from './backbone.js';
import { frozenBatchNorm, frozenConv, frozenLinear, poolFlatten } from './layers.js';

const BN_EPS = 1e-3;
const SE_RATIO = 0.25;
const NUM_CLASSES = 1000;

interface StageArgs {
  readonly repeats: number;
  readonly kernel: number;
  readonly stride: number;
  readonly expand: number;
  readonly input: number;
  readonly output: number;
}

/** The B0 stages (repeats / kernel / stride / expand / in / out), scaled per variant. */
const B0_STAGES: readonly StageArgs[] = [
  { repeats: 1, kernel: 3, stride: 1, expand: 1, input: 32, output: 16 },
  { repeats: 2, kernel: 3, stride: 2, expand: 6, input: 16, output: 24 },
  { repeats: 2, kernel: 5, stride: 2, expand: 6, input: 24, output: 40 },
  { repeats: 3, kernel: 3, stride: 2, expand: 6, input: 40, output: 80 },
  { repeats: 3, kernel: 5, stride: 1, expand: 6, input: 80, output: 112 },
  { repeats: 4, kernel: 5, stride: 2, expand: 6, input: 112, output: 192 },
  { repeats: 1, kernel: 3, stride: 1, expand: 6, input: 192, output: 320 },
];

export interface EfficientNetVariant {
  readonly name: string;
  readonly width: number;
  readonly depth: number;
  readonly resolution: number;
}

export const EFFICIENTNET_VARIANTS: readonly EfficientNetVariant[] = [
  { name: 'b0', width: 1.0, depth: 1.0, resolution: 224 },
  { name: 'b1', width: 1.0, depth: 1.1, resolution: 240 },
  { name: 'b2', width: 1.1, depth: 1.2, resolution: 260 },
  { name: 'b3', width: 1.2, depth: 1.4, resolution: 300 },
  { name: 'b4', width: 1.4, depth: 1.8, resolution: 380 },
];

/** Channels scaled by `width`, rounded to the nearest multiple of 8, bumped by 8 if that loses over 10%. */
export function roundFilters(filters: number, width: number): number {
  const divisor = 8;
  const scaled = filters * width;
  let rounded = Math.max(divisor, Math.floor((scaled + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * scaled) rounded += divisor;
  return rounded;
}

export function roundRepeats(repeats: number, depth: number): number {
  return Math.ceil(depth * repeats);
}

export interface EfficientNetStage {
  readonly repeats: number;
  readonly kernel: number;
  readonly stride: number;
  readonly expand: number;
  readonly input: number;
  readonly output: number;
  /** Index of the stage's last block in `_blocks`. */
  readonly lastBlock: number;
}

export interface EfficientNetPlan {
  readonly stem: number;
  readonly stages: readonly EfficientNetStage[];
  readonly head: number;
  readonly blocks: number;
}

export function efficientNetPlan(v: EfficientNetVariant): EfficientNetPlan {
  let block = 0;
  const stages = B0_STAGES.map((s) => {
    const repeats = roundRepeats(s.repeats, v.depth);
    block += repeats;
    return {
      repeats,
      kernel: s.kernel,
      stride: s.stride,
      expand: s.expand,
      input: roundFilters(s.input, v.width),
      output: roundFilters(s.output, v.width),
      lastBlock: block - 1,
    };
  });
  return { stem: roundFilters(32, v.width), stages, head: roundFilters(1280, v.width), blocks: block };
}

/** UniAS's taps: the ends of stages 1, 2, 3 and 5 (for B4: blocks 1, 5, 9, 21). */
const UNIAS_STAGES: Readonly<Record<string, number>> = { res1: 1, res2: 2, res3: 3, res4: 5 };

function efficientNetTaps(plan: EfficientNetPlan): TapSpec[] {
  const strides: number[] = [];
  let s = 2;
  for (const st of plan.stages) {
    s *= st.stride;
    strides.push(s);
  }
  const stage = (i: number) => plan.stages[i - 1]!;
  const taps: TapSpec[] = Object.entries(UNIAS_STAGES).map(([name, i]) => ({
    name,
    channels: stage(i).output,
    stride: strides[i - 1]!,
    description: `output of _blocks.${stage(i).lastBlock} (end of stage ${i})`,
  }));
  taps.push({ name: 'stem', channels: plan.stem, stride: 2, description: '_conv_stem -> _bn0 -> swish' });
  plan.stages.forEach((st, i) =>
    taps.push({ name: `stage${i + 1}`, channels: st.output, stride: strides[i]!, description: `output of _blocks.${st.lastBlock}` }),
  );
  taps.push({ name: 'head', channels: plan.head, stride: strides[strides.length - 1]!, description: '_conv_head -> _bn1 -> swish' });
  return taps;
}

/** Static "same" padding for a square input of `size` (the native resolution's feature size). */
function staticPad(size: number, kernel: number, stride: number): Pads2d {
  const [begin, end] = samePadding(size, kernel, stride);
  return [begin, begin, end, end];
}

interface BlockArgs {
  readonly input: number;
  readonly output: number;
  readonly expand: number;
  readonly kernel: number;
  readonly stride: number;
  /** Native-resolution feature size at the block's input (for its static padding). */
  readonly size: number;
}

/** MBConv: [expand 1x1 -> BN -> swish] -> depthwise -> BN -> swish -> SE -> project 1x1 -> BN (+ skip). */
function mbConv(b: GraphBuilder, x: Sym, a: BlockArgs): Sym {
  const inputs = x;
  const hidden = a.input * a.expand;
  if (a.expand !== 1) {
    x = frozenConv(b, '_expand_conv', x, { out: hidden, kernel: 1 });
    x = b.silu(frozenBatchNorm(b, '_bn0', x, BN_EPS));
  }
  x = frozenConv(b, '_depthwise_conv', x, {
    out: hidden,
    kernel: a.kernel,
    stride: a.stride,
    groups: hidden,
    padding: staticPad(a.size, a.kernel, a.stride),
  });
  x = b.silu(frozenBatchNorm(b, '_bn1', x, BN_EPS));
  const squeezed = Math.max(1, Math.floor(a.input * SE_RATIO));
  let s = b.globalAvgPool(x);
  s = b.silu(frozenConv(b, '_se_reduce', s, { out: squeezed, kernel: 1, bias: true }));
  s = frozenConv(b, '_se_expand', s, { out: hidden, kernel: 1, bias: true });
  x = b.mul(b.sigmoid(s), x);
  x = frozenConv(b, '_project_conv', x, { out: a.output, kernel: 1 });
  x = frozenBatchNorm(b, '_bn2', x, BN_EPS);
  // Drop-connect is off in eval, so the skip is a plain add.
  return a.stride === 1 && a.input === a.output ? b.add(x, inputs) : x;
}

export function createEfficientNet(variant: EfficientNetVariant): Backbone {
  const plan = efficientNetPlan(variant);
  const id = `efficientnet-${variant.name}`;
  const backbone: Backbone = {
    id,
    description: `EfficientNet-${variant.name.toUpperCase()} (width ${variant.width}, depth ${variant.depth}), efficientnet_pytorch keys, static padding for ${variant.resolution}x${variant.resolution}`,
    taps: efficientNetTaps(plan),
    defaultTaps: ['res1', 'res2', 'res3', 'res4'],
    nativeResolution: variant.resolution,
    inputNormalization: IMAGENET_NORMALIZATION,
    weightLayout: 'efficientnet_pytorch',
    build(b, image, options = {}) {
      checkImage(id, image);
      const taps = resolveTaps(backbone, options.taps);
      const feats = new Map<string, Sym>();
      let size = variant.resolution;
      let x = frozenConv(b, '_conv_stem', image, { out: plan.stem, kernel: 3, stride: 2, padding: staticPad(size, 3, 2) });
      size = Math.ceil(size / 2);
      x = b.silu(frozenBatchNorm(b, '_bn0', x, BN_EPS));
      feats.set('stem', x);
      let index = 0;
      b.within('_blocks', () => {
        plan.stages.forEach((st, i) => {
          for (let r = 0; r < st.repeats; r++) {
            const args: BlockArgs = {
              input: r === 0 ? st.input : st.output,
              output: st.output,
              expand: st.expand,
              kernel: st.kernel,
              stride: r === 0 ? st.stride : 1,
              size,
            };
            x = b.within(index++, () => mbConv(b, x, args));
            if (r === 0) size = Math.ceil(size / st.stride);
          }
          feats.set(`stage${i + 1}`, x);
        });
      });
      x = frozenConv(b, '_conv_head', x, { out: plan.head, kernel: 1 });
      x = b.silu(frozenBatchNorm(b, '_bn1', x, BN_EPS));
      feats.set('head', x);
      // The classifier is declared so a full state_dict maps 1:1; dropout is off in eval.
      frozenLinear(b, '_fc', poolFlatten(b, x), NUM_CLASSES);
      for (const [name, st] of Object.entries(UNIAS_STAGES)) feats.set(name, feats.get(`stage${st}`)!);
      return pickTaps(backbone, feats, taps);
    },
  };
  return backbone;
}

export const EFFICIENTNETS: readonly Backbone[] = EFFICIENTNET_VARIANTS.map(createEfficientNet);
