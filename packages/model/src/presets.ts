/**
 * Named configurations. `paper` is the published model (its state_dict matches the official one
 * key for key); `small` is the golden fixture's reduced head; `cpu` trains in minutes on two
 * cores; `visa` is the official VisA configuration; `uniad-baseline` is the one-level, plain-adaptor
 * ablation.
 */
import type { ModelConfig } from './config.js';

export const PRESET_NAMES = ['paper', 'small', 'cpu', 'visa', 'uniad-baseline'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const PAPER: ModelConfig = {
  backbone: 'efficientnet-b4',
  inputSize: 224,
  convDim: 256,
  hidden: 256,
  maskDim: 256,
  dimFeedforward: 2048,
  numHeads: 4,
  encoderLayers: 3,
  adaptor: 'mgg-cnn',
  attention: 'spatial-channel',
  neighbourSize: 7,
  postGaussian: true,
  dropout: 0.1,
  jitter: { scale: 20, prob: 0.5 },
  loss: { weight: 10, cosine: 'distance', mse: 'raw' },
};

export const PRESETS: Readonly<Record<PresetName, ModelConfig>> = {
  paper: PAPER,
  /** The official code with CONV_DIM = HIDDEN_DIM = 64, MASK_DIM 32, FFN 128 (the golden fixture). */
  small: { ...PAPER, convDim: 64, hidden: 64, maskDim: 32, dimFeedforward: 128 },
  /**
   * MobileNetV2 taps (16/24/32/96 channels, ImageNet weights from npm) and a narrow head: the same
   * architecture as the paper (4 levels, 7x7 neighbour mask, MGG-CNN), 32-wide tokens and maps,
   * 16-wide prediction heads, FFN 64. At 256x256 (16x16 queries) with the image scaled to
   * [-1, 1], the range the frozen ImageNet layers were trained on: docs/accuracy.md measured both
   * (on KSDD, [0, 1] halves pixel AP; 256 beats 224 per CPU-minute). The loss is the cosine
   * distance alone (`mse: 'none'`): the raw MSE of these taps is 1-20 per level against cosine
   * distances under 0.6, so the official sum trained mostly magnitudes, and the anomaly map is
   * cosine only (docs/accuracy.md: the unified run's mean pixel AP 0.292 -> 0.386).
   */
  cpu: {
    ...PAPER,
    backbone: 'mobilenet_v2',
    inputSize: 256,
    inputRange: 'signed',
    convDim: 32,
    hidden: 32,
    maskDim: 16,
    dimFeedforward: 64,
    loss: { weight: 10, cosine: 'distance', mse: 'none' },
  },
  /** The official VisA configuration: spatial attention only, loss weight 1. */
  visa: { ...PAPER, attention: 'spatial', loss: { weight: 1, cosine: 'distance', mse: 'raw' } },
  /** UniAD-like: the coarsest level only, no adaptor, spatial attention with the neighbour mask. */
  'uniad-baseline': { ...PAPER, levels: 1, adaptor: 'identity', attention: 'spatial' },
};

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** A preset with fields overridden. Unknown preset names are an error listing the known ones. */
export function presetConfig(name: PresetName, overrides: Partial<ModelConfig> = {}): ModelConfig {
  if (!isPresetName(name)) throw new Error(`unknown preset "${String(name)}"; known: ${PRESET_NAMES.join(', ')}`);
  return { ...PRESETS[name], ...overrides };
}
