/**
 * The nearest-neighbour detector (method 'knn') as graphs over the same frozen backbone as UniAS:
 * `knnEmbedding` (image -> patch embedding on the stride grid) and `knnAnomalyMap` (embedding ->
 * distance to the nearest bank patch, bilinear to the input size, Gaussian smoothing; score = max).
 * The bank is two parameters, `knn.bank` [C, M] and `knn.bank_sqnorm` [1, M], so a fitted
 * detector is stored, exported to ONNX and served like any UniAS model.
 */
import { createGraph, prune, zeros, type Graph, type GraphBuilder, type Sym } from '@unias/graph';
import { nearestDistanceMap, patchEmbedding } from '@unias/knn';
import { gaussianSide, type ResolvedConfig, type ResolvedKnn } from './config.js';
import { gaussianBlur } from './preprocess.js';
import { normalizeImage, type ImageInput } from './input-normalization.js';

export const KNN_BANK = 'knn.bank';
export const KNN_BANK_SQNORM = 'knn.bank_sqnorm';

function knnOf(c: ResolvedConfig): ResolvedKnn {
  if (!c.knn) throw new Error(`method "${c.method}" has no knn settings`);
  return c.knn;
}

/** image [N, 3, H, W] -> embedding [N, C, H / stride, W / stride] (backbone under `backbone`). */
export function knnEmbedding(b: GraphBuilder, image: Sym, c: ResolvedConfig, input: ImageInput = 'unit'): Sym {
  const k = knnOf(c);
  const x = normalizeImage(b, image, c, input);
  const names = [...new Set(k.taps.map((t) => t.name))];
  const raw = b.within('backbone', () => c.backbone.build(b, x, { taps: names }));
  return b.within('knn', () =>
    patchEmbedding(
      b,
      k.taps.map((t) => raw[t.name]!),
      { grid: k.grid, poolSize: k.poolSize },
    ),
  );
}

export interface KnnAnomalyMap {
  /** [N, 1, H, W]. */
  readonly map: Sym;
  /** [N]. */
  readonly score: Sym;
  /** [N, 1, h, w]: distances on the embedding grid. */
  readonly distances: Sym;
}

export function knnAnomalyMap(b: GraphBuilder, embedding: Sym, c: ResolvedConfig): KnnAnomalyMap {
  const k = knnOf(c);
  const bank = b.param(KNN_BANK, [k.channels, k.bankSize], zeros, { trainable: false });
  const sq = b.param(KNN_BANK_SQNORM, [1, k.bankSize], zeros, { trainable: false });
  const distances = b.within('knn', () => nearestDistanceMap(b, embedding, bank, sq));
  const [h, w] = c.inputSize;
  let map = b.resizeBilinear(distances, [h, w], false);
  if (k.sigma > 0) map = gaussianBlur(b, map, gaussianSide(k.sigma), k.sigma);
  return { map, score: b.max(map, [1, 2, 3]), distances };
}

/** image -> `embedding` [N, C, h, w]: what fitting the bank needs. */
export function buildKnnEmbeddingGraph(c: ResolvedConfig, options: { input?: ImageInput; batch?: number } = {}): Graph {
  const b = createGraph();
  const image = b.input('image', [options.batch ?? 1, 3, c.inputSize[0], c.inputSize[1]]);
  b.output('embedding', knnEmbedding(b, image, c, options.input ?? 'unit'));
  return prune(b.build());
}
