/**
 * The model configuration: which backbone and taps, the head's widths, the ablation switches and
 * the loss. `resolveConfig` fills defaults and validates everything up front, so a bad setting is
 * one clear error naming the field, not a shape error deep inside the graph.
 */
import { getBackbone, type Backbone, type InputNormalization, type TapSpec } from '@unias/backbones';
import type { AttentionKind } from '@unias/decoder';
import { MSE_FORMS, type CosineSign, type MseForm } from '@unias/losses';
import { ADAPTOR_KINDS, isAdaptorKind, type AdaptorKind } from '@unias/mgg-cnn';

/** 'unias': the learned reconstruction head; 'knn': nearest normal patch in a memory bank (PatchCore-style). */
export type Method = 'unias' | 'knn';
export const METHODS: readonly Method[] = ['unias', 'knn'];

/** The nearest-neighbour detector's settings (method 'knn'). */
export interface KnnConfig {
  /** Backbone taps embedded per patch (any strides; default: every default tap but the finest). */
  readonly taps?: readonly string[];
  /** Stride of the embedding grid in input pixels (default 8). */
  readonly stride?: number;
  /** Local average over poolSize x poolSize grid cells (odd; default 3). */
  readonly poolSize?: number;
  /** Patches in the memory bank (fixed by the fitted bank). */
  readonly bankSize: number;
  /** Gaussian smoothing of the map at the input size, in pixels (0 = none; default 4). */
  readonly sigma?: number;
}

export interface ResolvedKnn {
  readonly taps: readonly TapSpec[];
  readonly stride: number;
  readonly grid: readonly [number, number];
  readonly poolSize: number;
  readonly bankSize: number;
  readonly sigma: number;
  /** Channels of the embedding (sum over the taps). */
  readonly channels: number;
}

/** Input scalings by name: 'backbone' (what the backbone declares), 'unit' ([0, 1]), 'signed' ([-1, 1]), 'imagenet'. */
export type InputRange = 'backbone' | 'unit' | 'signed' | 'imagenet';
export const INPUT_RANGES: readonly InputRange[] = ['backbone', 'unit', 'signed', 'imagenet'];
const RANGE_NORMALIZATION: Readonly<Record<Exclude<InputRange, 'backbone'>, InputNormalization>> = {
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
  signed: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

export interface ModelConfig {
  /** Detector: 'unias' (default) or 'knn'. */
  readonly method?: Method;
  /** How [0, 1] RGB is scaled before the backbone (default 'backbone': the backbone's own declaration). */
  readonly inputRange?: InputRange;
  /** Nearest-neighbour settings; required when method is 'knn'. */
  readonly knn?: KnnConfig;
  /** Backbone id in the @unias/backbones registry (e.g. "efficientnet-b4", "mobilenet_v2"). */
  readonly backbone: string;
  /** Backbone taps, finest first (default: the backbone's `defaultTaps`, res1..res4). */
  readonly taps?: readonly string[];
  /** How many taps the head uses, the coarsest ones (1..taps.length; default all). */
  readonly levels?: number;
  /** Input [height, width] or one side; multiples of the coarsest tap's stride (16). Default 224. */
  readonly inputSize?: number | readonly [number, number];
  /** Pixel-decoder width (official SEM_SEG_HEAD.CONV_DIM). */
  readonly convDim: number;
  /** Token width of the hybrid decoder (official MASK_FORMER.HIDDEN_DIM). */
  readonly hidden: number;
  /** Prediction-head conv width (official MASK_DIM). */
  readonly maskDim: number;
  /** FFN width in the encoder and both decoder branches. */
  readonly dimFeedforward: number;
  /** Attention heads (default 4). */
  readonly numHeads?: number;
  /** Pixel-decoder Transformer layers (default 3). */
  readonly encoderLayers?: number;
  /** Adaptor after each decoder level (default 'mgg-cnn'). */
  readonly adaptor?: AdaptorKind;
  /** Width inside the level adaptors (default hidden). */
  readonly adaptorHidden?: number;
  /** Width inside the query processor's MGG-CNN (default hidden). */
  readonly queryAdaptorHidden?: number;
  /** 'spatial-channel' (paper, MVTec config) or 'spatial' (VisA config). Default 'spatial-channel'. */
  readonly attention?: AttentionKind;
  /** Neighbour mask size in the spatial attentions (odd; 0 = none). Default 7. */
  readonly neighbourSize?: number;
  /** Gaussian blur of the per-level maps (kernels 3, 5, 7, 9). Default true. */
  readonly postGaussian?: boolean;
  /** Decoder levels (0 = coarsest) whose maps are multiplied into the anomaly map; default all (official). */
  readonly mapLevels?: readonly number[];
  /** Dropout in every attention and FFN of training graphs. Default 0.1. */
  readonly dropout?: number;
  /** Training-time feature jitter. Default { scale: 20, prob: 0.5 }. */
  readonly jitter?: { readonly scale: number; readonly prob: number };
  /**
   * Loss weight (10 MVTec, 1 VisA), cosine sign, and the MSE term's form (`'raw'` official,
   * `'relative'` to the target's mean square, `'none'`). Default { weight: 10, cosine: 'distance', mse: 'raw' }.
   */
  readonly loss?: { readonly weight?: number; readonly cosine?: CosineSign; readonly mse?: MseForm };
}

/** Every field present and checked. */
export interface ResolvedConfig {
  readonly method: Method;
  readonly inputRange: InputRange;
  /** The scaling applied to [0, 1] RGB before the backbone. */
  readonly inputNormalization: InputNormalization;
  /** Nearest-neighbour settings when method is 'knn', else null. */
  readonly knn: ResolvedKnn | null;
  readonly backbone: Backbone;
  /** The taps the head uses, finest first. */
  readonly taps: readonly TapSpec[];
  readonly inputSize: readonly [number, number];
  readonly convDim: number;
  readonly hidden: number;
  readonly maskDim: number;
  readonly dimFeedforward: number;
  readonly numHeads: number;
  readonly encoderLayers: number;
  readonly adaptor: AdaptorKind;
  readonly adaptorHidden: number;
  readonly queryAdaptorHidden: number;
  readonly attention: AttentionKind;
  readonly neighbourSize: number;
  readonly postGaussian: boolean;
  readonly mapLevels: readonly number[];
  readonly dropout: number;
  readonly jitter: { readonly scale: number; readonly prob: number };
  readonly loss: { readonly weight: number; readonly cosine: CosineSign; readonly mse: MseForm };
  /** The query grid (input / coarsest stride). */
  readonly grid: readonly [number, number];
}

export class ConfigError extends Error {
  constructor(field: string, message: string) {
    super(`model config: ${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function resolveConfig(config: ModelConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) throw new ConfigError('(root)', 'expected an object');
  let backbone: Backbone;
  try {
    backbone = getBackbone(config.backbone);
  } catch (e) {
    throw new ConfigError('backbone', (e as Error).message);
  }
  const tapNames = config.taps ?? backbone.defaultTaps;
  const allTaps = tapNames.map((name) => {
    const t = backbone.taps.find((s) => s.name === name);
    if (!t) throw new ConfigError('taps', `backbone "${backbone.id}" has no tap "${name}"; valid taps: ${backbone.taps.map((s) => s.name).join(', ')}`);
    return t;
  });
  if (allTaps.length === 0) throw new ConfigError('taps', 'at least one tap is needed');
  allTaps.forEach((t, i) => {
    if (i > 0 && t.stride !== 2 * allTaps[i - 1]!.stride) {
      throw new ConfigError(
        'taps',
        `each tap must have twice the stride of the previous one (finest first); got strides ${allTaps.map((s) => s.stride).join(', ')}`,
      );
    }
  });
  const levels = config.levels ?? allTaps.length;
  if (!Number.isInteger(levels) || levels < 1 || levels > allTaps.length) {
    throw new ConfigError('levels', `must be an integer in 1..${allTaps.length}, got ${JSON.stringify(config.levels)}`);
  }
  const taps = allTaps.slice(allTaps.length - levels);
  const coarsest = taps[taps.length - 1]!.stride;

  const size = config.inputSize ?? 224;
  const inputSize: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  for (const [i, s] of inputSize.entries()) {
    if (!Number.isInteger(s) || s <= 0 || s % coarsest !== 0) {
      throw new ConfigError(
        'inputSize',
        `${i === 0 ? 'height' : 'width'} ${JSON.stringify(s)} must be a positive multiple of ${coarsest} (the coarsest tap's stride)`,
      );
    }
  }
  const grid: [number, number] = [inputSize[0] / coarsest, inputSize[1] / coarsest];

  const convDim = positiveInt('convDim', config.convDim);
  const hidden = positiveInt('hidden', config.hidden);
  const maskDim = positiveInt('maskDim', config.maskDim);
  const dimFeedforward = positiveInt('dimFeedforward', config.dimFeedforward);
  const numHeads = positiveInt('numHeads', config.numHeads ?? 4);
  const encoderLayers = positiveInt('encoderLayers', config.encoderLayers ?? 3);
  if (convDim % 32 !== 0) throw new ConfigError('convDim', `must be a multiple of 32 (GroupNorm with 32 groups), got ${convDim}`);
  if (convDim % numHeads !== 0) throw new ConfigError('convDim', `${convDim} is not divisible by numHeads ${numHeads}`);
  if (hidden % numHeads !== 0 || hidden % 4 !== 0) throw new ConfigError('hidden', `must be a multiple of 4 and of numHeads ${numHeads}, got ${hidden}`);

  const adaptor = config.adaptor ?? 'mgg-cnn';
  if (!isAdaptorKind(adaptor)) throw new ConfigError('adaptor', `unknown adaptor "${String(adaptor)}"; known: ${ADAPTOR_KINDS.join(', ')}`);
  const attention = config.attention ?? 'spatial-channel';
  if (attention !== 'spatial-channel' && attention !== 'spatial') {
    throw new ConfigError('attention', `unknown attention "${String(attention)}"; known: spatial-channel, spatial`);
  }
  const q = grid[0] * grid[1];
  if (attention === 'spatial-channel' && q % numHeads !== 0) {
    throw new ConfigError('inputSize', `the channel branch attends over ${grid[0]}x${grid[1]} = ${q} positions, not divisible by ${numHeads} heads`);
  }
  const neighbourSize = config.neighbourSize ?? 7;
  if (!Number.isInteger(neighbourSize) || neighbourSize < 0 || (neighbourSize > 0 && neighbourSize % 2 === 0)) {
    throw new ConfigError('neighbourSize', `must be 0 (no mask) or an odd positive integer, got ${JSON.stringify(config.neighbourSize)}`);
  }
  // A query is fully blocked when its neighbourhood covers the whole grid.
  if (neighbourSize > 0 && grid[0] <= neighbourSize && grid[1] <= neighbourSize) {
    throw new ConfigError(
      'neighbourSize',
      `a ${neighbourSize}x${neighbourSize} mask blocks every key of the ${grid[0]}x${grid[1]} query grid; use a larger input or a smaller mask`,
    );
  }
  const dropout = config.dropout ?? 0.1;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new ConfigError('dropout', `must be in [0, 1), got ${JSON.stringify(dropout)}`);
  const jitter = config.jitter ?? { scale: 20, prob: 0.5 };
  if (!(jitter.scale >= 0) || !(jitter.prob >= 0 && jitter.prob <= 1)) {
    throw new ConfigError('jitter', `scale must be >= 0 and prob in [0, 1], got ${JSON.stringify(jitter)}`);
  }
  const weight = config.loss?.weight ?? 10;
  if (!(typeof weight === 'number' && Number.isFinite(weight) && weight > 0))
    throw new ConfigError('loss.weight', `must be a positive number, got ${JSON.stringify(weight)}`);
  const cosine = config.loss?.cosine ?? 'distance';
  if (cosine !== 'distance' && cosine !== 'released') throw new ConfigError('loss.cosine', `must be "distance" or "released", got ${JSON.stringify(cosine)}`);
  const mse = config.loss?.mse ?? 'raw';
  if (!MSE_FORMS.includes(mse)) throw new ConfigError('loss.mse', `must be one of ${MSE_FORMS.map((f) => `"${f}"`).join(', ')}, got ${JSON.stringify(mse)}`);

  const method = config.method ?? 'unias';
  if (!METHODS.includes(method)) throw new ConfigError('method', `unknown method "${String(method)}"; known: ${METHODS.join(', ')}`);
  const range = config.inputRange ?? 'backbone';
  if (!INPUT_RANGES.includes(range)) throw new ConfigError('inputRange', `unknown input range "${String(range)}"; known: ${INPUT_RANGES.join(', ')}`);
  const inputNormalization = range === 'backbone' ? backbone.inputNormalization : RANGE_NORMALIZATION[range];

  return {
    method,
    inputRange: range,
    inputNormalization,
    knn: method === 'knn' ? resolveKnn(config.knn, backbone, inputSize) : null,
    backbone,
    taps,
    inputSize,
    convDim,
    hidden,
    maskDim,
    dimFeedforward,
    numHeads,
    encoderLayers,
    adaptor,
    adaptorHidden: positiveInt('adaptorHidden', config.adaptorHidden ?? hidden),
    queryAdaptorHidden: positiveInt('queryAdaptorHidden', config.queryAdaptorHidden ?? hidden),
    attention,
    neighbourSize,
    postGaussian: config.postGaussian ?? true,
    mapLevels: resolveMapLevels(config.mapLevels, levels),
    dropout,
    jitter: { scale: jitter.scale, prob: jitter.prob },
    loss: { weight, cosine, mse },
    grid,
  };
}

function resolveKnn(k: KnnConfig | undefined, backbone: Backbone, inputSize: readonly [number, number]): ResolvedKnn {
  if (!k || typeof k !== 'object') throw new ConfigError('knn', 'method "knn" needs knn settings ({ bankSize, ... })');
  const names = k.taps ?? backbone.defaultTaps.slice(backbone.defaultTaps.length > 1 ? 1 : 0);
  if (!Array.isArray(names) || names.length === 0) throw new ConfigError('knn.taps', 'at least one tap is needed');
  const taps = names.map((name) => {
    const t = backbone.taps.find((s) => s.name === name);
    if (!t) throw new ConfigError('knn.taps', `backbone "${backbone.id}" has no tap "${name}"; valid taps: ${backbone.taps.map((s) => s.name).join(', ')}`);
    return t;
  });
  const stride = positiveInt('knn.stride', k.stride ?? 8);
  for (const [i, s] of inputSize.entries()) {
    if (s % stride !== 0) throw new ConfigError('knn.stride', `the ${i === 0 ? 'height' : 'width'} ${s} is not a multiple of the embedding stride ${stride}`);
  }
  const poolSize = positiveInt('knn.poolSize', k.poolSize ?? 3);
  if (poolSize % 2 === 0) throw new ConfigError('knn.poolSize', `must be odd, got ${poolSize}`);
  const sigma = k.sigma ?? 4;
  if (typeof sigma !== 'number' || !(sigma >= 0) || !Number.isFinite(sigma))
    throw new ConfigError('knn.sigma', `must be a number >= 0, got ${JSON.stringify(k.sigma)}`);
  const [h, w] = inputSize;
  if (sigma > 0 && (gaussianSide(sigma) - 1) / 2 >= Math.min(h, w)) throw new ConfigError('knn.sigma', `${sigma} is too large for a ${h}x${w} input`);
  return {
    taps,
    stride,
    grid: [h / stride, w / stride],
    poolSize,
    bankSize: positiveInt('knn.bankSize', k.bankSize),
    sigma,
    channels: taps.reduce((n, t) => n + t.channels, 0),
  };
}

/** Kernel side of the knn map's Gaussian: 2 * round(4 sigma) + 1, as anomalib's blur. */
export function gaussianSide(sigma: number): number {
  return 2 * Math.round(4 * sigma) + 1;
}

function resolveMapLevels(v: readonly number[] | undefined, levels: number): number[] {
  if (v === undefined) return Array.from({ length: levels }, (_, i) => i);
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError('mapLevels', 'must be a non-empty list of level indices (0 = coarsest)');
  for (const i of v) {
    if (!Number.isInteger(i) || i < 0 || i >= levels)
      throw new ConfigError('mapLevels', `level ${JSON.stringify(i)} is not one of 0..${levels - 1} (0 = coarsest)`);
  }
  if (new Set(v).size !== v.length) throw new ConfigError('mapLevels', `repeats a level: ${JSON.stringify(v)}`);
  return [...v];
}
