/**
 * Fitting the nearest-neighbour detector (method 'knn'): every normal training image goes through
 * the frozen backbone once (no augmentation), its patch embeddings go into a memory bank, the bank
 * is subsampled (greedy coreset by default) and becomes two parameters of the model. The result is
 * a model like a trained UniAS one: the same inference contract (image -> anomaly map, score),
 * stored, evaluated, exported and served by the same code.
 */
import { createBatchLoader, createSampleReader, type Sample } from '@unias/datasets';
import type { Backend, TensorData } from '@unias/graph';
import { createBankBuilder, type MemoryBank, type Subsampling } from '@unias/knn';
import { KNN_BANK, KNN_BANK_SQNORM, buildKnnEmbeddingGraph, resolveConfig, type ModelConfig, type ResolvedConfig } from '@unias/model';

export interface KnnSettings {
  /** Taps to embed (default: the backbone's default taps but the finest). */
  readonly taps: readonly string[] | null;
  readonly stride: number;
  readonly poolSize: number;
  readonly bankSize: number;
  readonly sigma: number;
  readonly subsampling: Subsampling;
  /** Patches kept before subsampling at most (a seeded reservoir). */
  readonly maxCandidates: number;
  /** Random projection width of the greedy coreset. */
  readonly projectDim: number;
}

export const KNN_DEFAULTS: KnnSettings = {
  taps: null,
  stride: 8,
  poolSize: 3,
  bankSize: 30_000,
  sigma: 4,
  subsampling: 'random',
  maxCandidates: 200_000,
  projectDim: 32,
};

/** The model configuration of a knn detector over `base`'s backbone and input (bank size set when fitted). */
export function knnModelConfig(base: ModelConfig, k: KnnSettings, bankSize: number = k.bankSize): ModelConfig {
  return {
    ...base,
    method: 'knn',
    knn: { ...(k.taps ? { taps: k.taps } : {}), stride: k.stride, poolSize: k.poolSize, sigma: k.sigma, bankSize },
  };
}

export interface FitKnnOptions {
  readonly backend: Backend;
  /** The detector's configuration (method 'knn'); its bankSize is the bank size asked for. */
  readonly model: ModelConfig;
  readonly backboneParams: ReadonlyMap<string, TensorData>;
  /** Normal training images. */
  readonly samples: readonly Sample[];
  readonly knn: KnnSettings;
  readonly seed?: number;
  readonly batchSize?: number;
  readonly onEmbed?: (done: number, total: number) => void;
  readonly onSubsample?: (done: number, total: number) => void;
}

export interface FittedKnn {
  /** The configuration with the bank's real size (min of the asked size and the patches seen). */
  readonly model: ModelConfig;
  readonly config: ResolvedConfig;
  /** Backbone parameters and the bank: every parameter of the inference graph. */
  readonly params: Map<string, TensorData>;
  readonly bank: MemoryBank;
  readonly seconds: { readonly embed: number; readonly subsample: number };
}

export async function fitKnn(o: FitKnnOptions): Promise<FittedKnn> {
  const config = resolveConfig(o.model);
  if (!config.knn) throw new Error('fitKnn: the model configuration is not a knn detector');
  const [h, w] = config.inputSize;
  const [gh, gw] = config.knn.grid;
  const graph = buildKnnEmbeddingGraph(config);
  const session = await o.backend.prepare(graph, { params: new Map([...graph.params.keys()].map((n) => [n, o.backboneParams.get(n)!])), dynamicBatch: true });
  const builder = createBankBuilder({ channels: config.knn.channels, maxCandidates: o.knn.maxCandidates, seed: o.seed ?? 0 });
  const t0 = performance.now();
  const loader = createBatchLoader({
    samples: o.samples,
    reader: createSampleReader({ size: { width: w, height: h }, normalize: 'none' }),
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    prefetch: 2,
  });
  let done = 0;
  try {
    for await (const batch of loader.epoch()) {
      const out = await session.run({ image: batch.images as TensorData<'float32'> });
      const n = batch.images.shape[0]!;
      builder.add(out['embedding']!.data as Float32Array, n, gh, gw);
      done += n;
      o.onEmbed?.(done, o.samples.length);
    }
  } finally {
    await loader.close();
    await session.dispose();
  }
  const t1 = performance.now();
  const bank = builder.finish({
    size: o.knn.bankSize,
    subsampling: o.knn.subsampling,
    projectDim: o.knn.projectDim,
    ...(o.onSubsample ? { onProgress: o.onSubsample } : {}),
  });
  const t2 = performance.now();
  const model = knnModelConfig(o.model, o.knn, bank.size);
  const fitted = resolveConfig(model);
  const params = new Map<string, TensorData>();
  for (const n of graph.params.keys()) params.set(n, o.backboneParams.get(n)!);
  params.set(KNN_BANK, { dtype: 'float32', shape: [bank.channels, bank.size], data: bank.bank });
  params.set(KNN_BANK_SQNORM, { dtype: 'float32', shape: [1, bank.size], data: bank.sqNorm });
  return { model, config: fitted, params, bank, seconds: { embed: (t1 - t0) / 1000, subsample: (t2 - t1) / 1000 } };
}
