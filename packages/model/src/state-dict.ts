/**
 * The official checkpoint layout: every `state_dict` key of a configuration (backbone with its
 * classifier, and head), and the `num_batches_tracked` buffers PyTorch keeps beside each batch
 * norm, which are not graph parameters but which an exporter writes (int64 scalars) so that the
 * file loads into the official code with `strict=True`.
 */
import { countParams, createGraph, type Graph, type ParamNode } from '@unias/graph';
import { buildFeatures, buildHead, type AnyConfig } from './build.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { knnAnomalyMap, knnEmbedding } from './knn.js';

/** The unpruned graph of the whole model: every backbone and head parameter. */
export function buildFullGraph(config: AnyConfig): Graph {
  const c: ResolvedConfig = 'grid' in config ? config : resolveConfig(config);
  const b = createGraph();
  const image = b.input('image', [1, 3, c.inputSize[0], c.inputSize[1]]);
  if (c.knn) {
    b.output('anomaly_map', knnAnomalyMap(b, knnEmbedding(b, image, c, 'normalized'), c).map);
    return b.build();
  }
  const f = buildFeatures(b, image, c, 'normalized');
  buildHead(b, f.decoderInputs, c).forEach((r, i) => b.output(`recon.${i}`, r));
  return b.build();
}

/** `<bn>.num_batches_tracked` for every batch norm of a PyTorch-layout backbone (none for Keras layouts). */
export function extraStateDictKeys(graph: Graph, weightLayout: string): string[] {
  if (weightLayout === 'keras') return [];
  return [...graph.params.keys()].filter((k) => k.endsWith('.running_mean')).map((k) => k.replace(/running_mean$/, 'num_batches_tracked'));
}

export interface StateDictListing {
  /** Graph parameters (float32) with shapes, in graph order. */
  readonly params: ReadonlyArray<readonly [string, readonly number[]]>;
  /** Extra int64 scalar buffers an exporter writes. */
  readonly buffers: readonly string[];
  /** Trainable counts as the official code reports them (backbone counted though frozen; buffers excluded). */
  readonly trainable: { readonly backbone: number; readonly head: number };
}

const isBuffer = (p: ParamNode) => /\.running_(mean|var)$/.test(p.name);

export function stateDictListing(config: AnyConfig): StateDictListing {
  const c: ResolvedConfig = 'grid' in config ? config : resolveConfig(config);
  const g = buildFullGraph(c);
  return {
    params: [...g.params.values()].map((p) => [p.name, p.shape] as const),
    buffers: extraStateDictKeys(g, c.backbone.weightLayout),
    trainable: {
      backbone: countParams(g, (p) => p.name.startsWith('backbone.') && !isBuffer(p)),
      head: countParams(g, (p) => p.name.startsWith('sem_seg_head.') && p.trainable),
    },
  };
}
