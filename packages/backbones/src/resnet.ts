/**
 * ResNet-18/34/50 and WideResNet-50-2 with torchvision's parameter names (`conv1`, `bn1`,
 * `layer1.0.conv1`, `layer1.0.downsample.0/1`, `fc`), torchvision v1.5 (stride on the 3x3 conv of
 * a bottleneck), batch-norm eps 1e-5.
 */
import type { GraphBuilder, Sym } from '@unias/graph';
import { IMAGENET_NORMALIZATION, checkImage, pickTaps, resolveTaps, type Backbone, type TapSpec } from './backbone.js';
import { frozenBatchNorm, frozenConv, frozenLinear, poolFlatten } from './layers.js';

const BN_EPS = 1e-5;
const NUM_CLASSES = 1000;

export interface ResNetVariant {
  readonly id: string;
  readonly label: string;
  readonly block: 'basic' | 'bottleneck';
  readonly layers: readonly [number, number, number, number];
  /** Bottleneck width per group (64 for ResNet, 128 for WideResNet-50-2). */
  readonly baseWidth: number;
}

export const RESNET_VARIANTS: readonly ResNetVariant[] = [
  { id: 'resnet18', label: 'ResNet-18', block: 'basic', layers: [2, 2, 2, 2], baseWidth: 64 },
  { id: 'resnet34', label: 'ResNet-34', block: 'basic', layers: [3, 4, 6, 3], baseWidth: 64 },
  { id: 'resnet50', label: 'ResNet-50', block: 'bottleneck', layers: [3, 4, 6, 3], baseWidth: 64 },
  { id: 'wide_resnet50_2', label: 'WideResNet-50-2', block: 'bottleneck', layers: [3, 4, 6, 3], baseWidth: 128 },
];

const PLANES = [64, 128, 256, 512] as const;

function expansion(v: ResNetVariant): number {
  return v.block === 'basic' ? 1 : 4;
}

function basicBlock(b: GraphBuilder, x: Sym, planes: number, stride: number): Sym {
  let y = frozenConv(b, 'conv1', x, { out: planes, kernel: 3, stride, padding: 1 });
  y = b.relu(frozenBatchNorm(b, 'bn1', y, BN_EPS));
  y = frozenConv(b, 'conv2', y, { out: planes, kernel: 3, padding: 1 });
  y = frozenBatchNorm(b, 'bn2', y, BN_EPS);
  return b.relu(b.add(y, downsample(b, x, planes, stride)));
}

function bottleneck(b: GraphBuilder, x: Sym, planes: number, stride: number, baseWidth: number): Sym {
  const width = Math.floor(planes * (baseWidth / 64));
  let y = frozenConv(b, 'conv1', x, { out: width, kernel: 1 });
  y = b.relu(frozenBatchNorm(b, 'bn1', y, BN_EPS));
  y = frozenConv(b, 'conv2', y, { out: width, kernel: 3, stride, padding: 1 });
  y = b.relu(frozenBatchNorm(b, 'bn2', y, BN_EPS));
  y = frozenConv(b, 'conv3', y, { out: planes * 4, kernel: 1 });
  y = frozenBatchNorm(b, 'bn3', y, BN_EPS);
  return b.relu(b.add(y, downsample(b, x, planes * 4, stride)));
}

/** The shortcut: identity, or 1x1 conv (stride) + BN as `downsample.0` / `downsample.1`. */
function downsample(b: GraphBuilder, x: Sym, out: number, stride: number): Sym {
  if (stride === 1 && x.shape[1] === out) return x;
  return b.within('downsample', () => frozenBatchNorm(b, '1', frozenConv(b, '0', x, { out, kernel: 1, stride }), BN_EPS));
}

function resnetTaps(v: ResNetVariant): TapSpec[] {
  const e = expansion(v);
  const taps: TapSpec[] = [{ name: 'res1', channels: 64, stride: 2, description: 'conv1 -> bn1 -> relu (before the max-pool)' }];
  PLANES.forEach((p, i) => taps.push({ name: `res${i + 2}`, channels: p * e, stride: 4 * 2 ** i, description: `output of layer${i + 1}` }));
  PLANES.forEach((p, i) => taps.push({ name: `layer${i + 1}`, channels: p * e, stride: 4 * 2 ** i, description: `output of layer${i + 1} (= res${i + 2})` }));
  return taps;
}

export function createResNet(v: ResNetVariant): Backbone {
  const backbone: Backbone = {
    id: v.id,
    description: `${v.label}, torchvision keys`,
    taps: resnetTaps(v),
    defaultTaps: ['res1', 'res2', 'res3', 'res4'],
    inputNormalization: IMAGENET_NORMALIZATION,
    weightLayout: 'torchvision',
    build(b, image, options = {}) {
      checkImage(v.id, image);
      const taps = resolveTaps(backbone, options.taps);
      const feats = new Map<string, Sym>();
      let x = frozenConv(b, 'conv1', image, { out: 64, kernel: 7, stride: 2, padding: 3 });
      x = b.relu(frozenBatchNorm(b, 'bn1', x, BN_EPS));
      feats.set('res1', x);
      // Padding the max-pool with zeros equals torch's -inf padding here: its input is a ReLU output.
      x = b.maxPool2d(x, 3, { stride: 2, padding: 1 });
      PLANES.forEach((planes, i) => {
        b.within(`layer${i + 1}`, () => {
          for (let j = 0; j < v.layers[i]!; j++) {
            const stride = j === 0 && i > 0 ? 2 : 1;
            x = b.within(j, () => (v.block === 'basic' ? basicBlock(b, x, planes, stride) : bottleneck(b, x, planes, stride, v.baseWidth)));
          }
        });
        feats.set(`res${i + 2}`, x);
        feats.set(`layer${i + 1}`, x);
      });
      frozenLinear(b, 'fc', poolFlatten(b, x), NUM_CLASSES);
      return pickTaps(backbone, feats, taps);
    },
  };
  return backbone;
}

export const RESNETS: readonly Backbone[] = RESNET_VARIANTS.map(createResNet);
