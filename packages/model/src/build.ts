/**
 * Graph builders for the whole model: the inference pipeline (image -> anomaly map and score),
 * the head alone on precomputed features (for parity and feature caches), the features alone,
 * and the training loss.
 */
import { createGraph, prune, type Graph, type GraphBuilder, type Sym } from '@unias/graph';
import { unifiedHead, type HeadOptions } from '@unias/decoder';
import { reconstructionLoss, type ReconstructionLoss } from '@unias/losses';
import { anomalyMap } from './anomaly-map.js';
import { knnAnomalyMap, knnEmbedding } from './knn.js';
import { resolveConfig, type ModelConfig, type ResolvedConfig } from './config.js';
import { featureJitter, preprocessTap } from './preprocess.js';
import { normalizeImage, type ImageInput } from './input-normalization.js';

export type AnyConfig = ModelConfig | ResolvedConfig;

function resolved(config: AnyConfig): ResolvedConfig {
  return 'grid' in config ? config : resolveConfig(config);
}

/** Head options of a configuration (targets coarsest first). */
export function headOptions(config: ResolvedConfig): HeadOptions {
  return {
    pixelDecoder: {
      convDim: config.convDim,
      numHeads: config.numHeads,
      dimFeedforward: config.dimFeedforward,
      encoderLayers: config.encoderLayers,
      dropout: config.dropout,
    },
    predictor: {
      hidden: config.hidden,
      maskDim: config.maskDim,
      numHeads: config.numHeads,
      dimFeedforward: config.dimFeedforward,
      dropout: config.dropout,
      attention: config.attention,
      adaptor: config.adaptor,
      adaptorHidden: config.adaptorHidden,
      queryAdaptorHidden: config.queryAdaptorHidden,
      neighbourSize: config.neighbourSize,
      targetChannels: config.taps.map((t) => t.channels).reverse(),
    },
  };
}

/** Spatial size of each tap (finest first) at the configured input size. */
export function tapSizes(config: ResolvedConfig): Array<[number, number]> {
  return config.taps.map((t) => [config.inputSize[0] / t.stride, config.inputSize[1] / t.stride]);
}

/** The head under `sem_seg_head`: decoder inputs finest first -> reconstructions coarsest first. */
export function buildHead(b: GraphBuilder, decoderInputs: readonly Sym[], config: ResolvedConfig): Sym[] {
  return b.within('sem_seg_head', () => unifiedHead(b, decoderInputs, headOptions(config)).recon);
}

export type { ImageInput };

export interface Features {
  /** Finest first. */
  readonly targets: Sym[];
  readonly decoderInputs: Sym[];
}

/** image [N, 3, H, W] -> backbone (under `backbone`) -> targets and decoder inputs per tap. */
export function buildFeatures(b: GraphBuilder, image: Sym, config: ResolvedConfig, input: ImageInput = 'unit'): Features {
  const x = normalizeImage(b, image, config, input);
  const raw = b.within('backbone', () => config.backbone.build(b, x, { taps: config.taps.map((t) => t.name) }));
  const targets: Sym[] = [];
  const decoderInputs: Sym[] = [];
  b.within('features', () => {
    for (const t of config.taps) {
      const v = raw[t.name];
      if (!v) throw new Error(`backbone "${config.backbone.id}" returned no tap "${t.name}"`);
      const p = preprocessTap(b, v);
      targets.push(p.target);
      decoderInputs.push(p.decoderInput);
    }
  });
  return { targets, decoderInputs };
}

export interface InferenceGraphOptions {
  /** Default 'unit': RGB in [0, 1], normalised inside as the backbone needs. */
  readonly input?: ImageInput;
  /** Batch size the graph is built at (it stays batch-generic). Default 1. */
  readonly batch?: number;
  /** Also output `recon.<i>`, `target.<tap>`, `decoder_input.<tap>` and `level_map.<i>`. */
  readonly debugOutputs?: boolean;
}

/**
 * The whole pipeline: `image` [N, 3, H, W] -> `anomaly_map` [N, 1, H, W] and `score` [N].
 * Pruned to what the outputs need (the backbone's classifier and unused blocks drop out).
 */
export function buildInferenceGraph(config: AnyConfig, options: InferenceGraphOptions = {}): Graph {
  const c = resolved(config);
  const b = createGraph();
  const image = b.input('image', [options.batch ?? 1, 3, c.inputSize[0], c.inputSize[1]]);
  if (c.knn) {
    const am = knnAnomalyMap(b, knnEmbedding(b, image, c, options.input ?? 'unit'), c);
    b.output('anomaly_map', am.map);
    b.output('score', am.score);
    if (options.debugOutputs) b.output('distance_map', am.distances);
    return prune(b.build());
  }
  const features = buildFeatures(b, image, c, options.input ?? 'unit');
  const recon = buildHead(b, features.decoderInputs, c);
  const targets = [...features.targets].reverse();
  const am = b.within('anomaly_map', () => anomalyMap(b, recon, targets, { outputSize: c.inputSize, postGaussian: c.postGaussian, mapLevels: c.mapLevels }));
  b.output('anomaly_map', am.map);
  b.output('score', am.score);
  if (options.debugOutputs) {
    recon.forEach((r, i) => b.output(`recon.${i}`, r));
    am.levels.forEach((m, i) => b.output(`level_map.${i}`, m));
    c.taps.forEach((t, i) => {
      b.output(`target.${t.name}`, features.targets[i]!);
      b.output(`decoder_input.${t.name}`, features.decoderInputs[i]!);
    });
  }
  return prune(b.build());
}

/** image -> `target.<tap>` and `decoder_input.<tap>` (to cache features of a frozen backbone). */
export function buildFeatureGraph(config: AnyConfig, options: { input?: ImageInput; batch?: number } = {}): Graph {
  const c = resolved(config);
  const b = createGraph();
  const image = b.input('image', [options.batch ?? 1, 3, c.inputSize[0], c.inputSize[1]]);
  const f = buildFeatures(b, image, c, options.input ?? 'unit');
  c.taps.forEach((t, i) => {
    b.output(`target.${t.name}`, f.targets[i]!);
    b.output(`decoder_input.${t.name}`, f.decoderInputs[i]!);
  });
  return prune(b.build());
}

/** Inputs `decoder_input.<tap>` and `target.<tap>` for every tap, at a batch size. */
function featureInputs(b: GraphBuilder, c: ResolvedConfig, batch: number): Features {
  const sizes = tapSizes(c);
  const targets: Sym[] = [];
  const decoderInputs: Sym[] = [];
  c.taps.forEach((t, i) => {
    const [h, w] = sizes[i]!;
    decoderInputs.push(b.input(`decoder_input.${t.name}`, [batch, 2 * t.channels, h, w]));
    targets.push(b.input(`target.${t.name}`, [batch, t.channels, h, w]));
  });
  return { targets, decoderInputs };
}

export interface HeadGraphOptions {
  readonly batch?: number;
  /** Add `loss` and per-level terms (default true). */
  readonly loss?: boolean;
}

/**
 * The head on precomputed features: inputs `decoder_input.<tap>`, `target.<tap>`; outputs
 * `recon.<i>` (coarsest first), `anomaly_map`, `score`, and `loss`, `loss.level<i>`, `mse.level<i>`,
 * `cos.level<i>` (eval mode: no dropout, no jitter).
 */
export function buildHeadGraph(config: AnyConfig, options: HeadGraphOptions = {}): Graph {
  const c = resolved(config);
  const b = createGraph();
  const f = featureInputs(b, c, options.batch ?? 1);
  const recon = buildHead(b, f.decoderInputs, c);
  const targets = [...f.targets].reverse();
  recon.forEach((r, i) => b.output(`recon.${i}`, r));
  const am = b.within('anomaly_map', () => anomalyMap(b, recon, targets, { outputSize: c.inputSize, postGaussian: c.postGaussian, mapLevels: c.mapLevels }));
  b.output('anomaly_map', am.map);
  b.output('score', am.score);
  if (options.loss ?? true)
    outputLoss(
      b,
      b.within('loss', () => reconstructionLoss(b, recon, targets, c.loss)),
    );
  return b.build();
}

function outputLoss(b: GraphBuilder, l: ReconstructionLoss): void {
  b.output('loss', l.loss);
  l.levels.forEach((t, i) => {
    b.output(`loss.level${i}`, t.total);
    if (t.mse) b.output(`mse.level${i}`, t.mse);
    b.output(`cos.level${i}`, t.meanCos);
  });
}

export interface TrainingLossOptions {
  /** Training graphs have fixed-size random inputs (dropout masks, jitter), so a fixed batch. */
  readonly batchSize: number;
  /**
   * 'features' (default): inputs `decoder_input.<tap>` and `target.<tap>` from a feature cache of the
   * frozen backbone; 'image': input `image` through the backbone.
   */
  readonly from?: 'features' | 'image';
  /** For from = 'image'. Default 'unit'. */
  readonly input?: ImageInput;
}

export interface TrainingLoss {
  /** weight * sum of the levels (a scalar). */
  readonly loss: Sym;
  /** `loss.level<i>`, `mse.level<i>`, `cos.level<i>` for monitoring. */
  readonly terms: Readonly<Record<string, Sym>>;
}

/**
 * Declares the inputs and builds the training loss into `b`, which should be made with
 * `createGraph({ training: true })` so that dropout (0.1 in every attention and FFN) and the
 * feature jitter appear as random inputs. The backbone's parameters are frozen (not trainable);
 * the head's are trainable. The caller adds gradients and the optimizer to the same builder.
 */
export function buildTrainingLoss(b: GraphBuilder, config: AnyConfig, o: TrainingLossOptions): TrainingLoss {
  const c = resolved(config);
  if (c.method !== 'unias') throw new Error(`training loss: method "${c.method}" has no trained head (a knn model is fitted, not trained)`);
  if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) throw new Error(`training loss: batchSize must be a positive integer, got ${o.batchSize}`);
  let f: Features;
  if ((o.from ?? 'features') === 'image') {
    const image = b.input('image', [o.batchSize, 3, c.inputSize[0], c.inputSize[1]]);
    f = buildFeatures(b, image, c, o.input ?? 'unit');
  } else {
    f = featureInputs(b, c, o.batchSize);
  }
  const jittered = f.decoderInputs.map((u, i) => featureJitter(b, `jitter.${c.taps[i]!.name}`, u, c.jitter));
  const recon = buildHead(b, jittered, c);
  const l = b.within('loss', () => reconstructionLoss(b, recon, [...f.targets].reverse(), c.loss));
  const terms: Record<string, Sym> = {};
  l.levels.forEach((t, i) => {
    terms[`loss.level${i}`] = t.total;
    if (t.mse) terms[`mse.level${i}`] = t.mse;
    terms[`cos.level${i}`] = t.meanCos;
  });
  return { loss: l.loss, terms };
}

/** A training-mode graph with outputs `loss` and the per-level terms (see `buildTrainingLoss`). */
export function buildTrainingGraph(config: AnyConfig, o: TrainingLossOptions): Graph {
  const b = createGraph({ training: true });
  const { loss, terms } = buildTrainingLoss(b, config, o);
  b.output('loss', loss);
  for (const [name, s] of Object.entries(terms)) b.output(name, s);
  return prune(b.build());
}
