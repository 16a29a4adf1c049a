/** Do these weights fit this backbone for these taps? */
import { checkWeights, createGraph, prune, type Graph, type TensorData } from '@unias/graph';
import { resolveTaps, type Backbone } from '../backbone.js';

export interface BackboneGraphOptions {
  /** Taps to output (default: the backbone's default taps). */
  readonly taps?: readonly string[];
  /** Input size (default: the native resolution, else 224). */
  readonly size?: number | readonly [number, number];
  readonly batch?: number;
  /** A scope to build under (e.g. "backbone"), as a model would. */
  readonly scope?: string;
}

export interface BackboneGraph {
  /** The whole network (every parameter), with the taps as outputs. */
  readonly full: Graph;
  /** Only what the taps need. */
  readonly pruned: Graph;
  readonly taps: readonly string[];
}

/** Builds the backbone alone on an input named "image", the taps as outputs named after them. */
export function buildBackboneGraph(backbone: Backbone, options: BackboneGraphOptions = {}): BackboneGraph {
  const taps = resolveTaps(backbone, options.taps);
  const s = options.size ?? backbone.nativeResolution ?? 224;
  const [h, w] = typeof s === 'number' ? [s, s] : s;
  const b = createGraph();
  const image = b.input('image', [options.batch ?? 1, 3, h, w]);
  const build = () => backbone.build(b, image, { taps });
  const outs = options.scope ? b.within(options.scope, build) : build();
  for (const t of taps) b.output(t, outs[t]!);
  const full = b.build();
  return { full, pruned: prune(full, taps), taps };
}

/**
 * Checks weights against the backbone: a tensor that is not a parameter of the network
 * (anywhere, classifier included) or has the wrong shape is an error, and so is a parameter
 * the requested taps need that the weights lack. Parameters of unused parts may be absent.
 * One error names every offending tensor.
 */
export function checkBackboneWeights(
  backbone: Backbone,
  weights: ReadonlyMap<string, TensorData>,
  options: Omit<BackboneGraphOptions, 'batch' | 'size'> = {},
): void {
  const { full, pruned } = buildBackboneGraph(backbone, options);
  try {
    checkWeights(full, weights, { allowMissing: (name) => !pruned.params.has(name) });
  } catch (e) {
    throw new Error(`backbone "${backbone.id}": ${(e as Error).message}`);
  }
}
