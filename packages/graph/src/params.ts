/** Parameter values: materialising initialisers, checking a set of weights against a graph. */
import type { Graph, ParamNode } from './graph.js';
import { initialize } from './init.js';
import { formatShape, shapesEqual, type TensorData } from './tensor-data.js';

/** Parameter values by full name. */
export type ParamStore = Map<string, TensorData<'float32'>>;

/**
 * Values for every parameter of a graph: taken from `loaded` where present, else from the
 * parameter's initialiser, seeded per name. Parameters marked 'external' must be loaded.
 */
export function initParams(graph: Graph | Iterable<ParamNode>, seed: number, loaded?: ReadonlyMap<string, TensorData>): ParamStore {
  const params = 'params' in graph ? graph.params.values() : graph;
  const store: ParamStore = new Map();
  for (const p of params) {
    const given = loaded?.get(p.name);
    if (given) {
      checkOne(p, given);
      store.set(p.name, { dtype: 'float32', shape: [...p.shape], data: Float32Array.from(given.data) });
    } else {
      store.set(p.name, { dtype: 'float32', shape: [...p.shape], data: initialize(p.name, p.shape, p.init, seed) });
    }
  }
  return store;
}

function checkOne(p: ParamNode, t: TensorData): void {
  if (!shapesEqual(p.shape, t.shape)) {
    throw new Error(`weight "${p.name}" has shape ${formatShape(t.shape)}, the model expects ${formatShape(p.shape)}`);
  }
  if (t.dtype !== 'float32') throw new Error(`weight "${p.name}" is ${t.dtype}, expected float32`);
}

export interface WeightCheckOptions {
  /** Names in the weights that the graph does not use are allowed (default false: an error). */
  allowExtra?: boolean;
  /** Graph parameters that may be absent (they keep their initialiser). Default: none may be. */
  allowMissing?: (name: string) => boolean;
}

/**
 * Checks a set of weights against the graph's parameters; throws one error listing every missing,
 * extra and misshaped tensor by name (the first few of each, and how many in all).
 */
export function checkWeights(graph: Graph, weights: ReadonlyMap<string, TensorData>, options: WeightCheckOptions = {}): void {
  const missing: string[] = [];
  const misshaped: string[] = [];
  const extra: string[] = [];
  for (const p of graph.params.values()) {
    const t = weights.get(p.name);
    if (!t) {
      if (!options.allowMissing?.(p.name)) missing.push(p.name);
    } else if (!shapesEqual(t.shape, p.shape)) {
      misshaped.push(`${p.name} (file ${formatShape(t.shape)}, model ${formatShape(p.shape)})`);
    }
  }
  if (!options.allowExtra) for (const name of weights.keys()) if (!graph.params.has(name)) extra.push(name);
  const parts: string[] = [];
  const list = (what: string, names: string[]) => {
    if (names.length === 0) return;
    const shown = names.slice(0, 8).join(', ');
    parts.push(`${names.length} ${what}: ${shown}${names.length > 8 ? ', ...' : ''}`);
  };
  list('missing', missing);
  list('misshaped', misshaped);
  list('unexpected', extra);
  if (parts.length > 0) throw new Error(`weights do not fit the model: ${parts.join('; ')}`);
}

export function countParams(graph: Graph, filter: (p: ParamNode) => boolean = () => true): number {
  let n = 0;
  for (const p of graph.params.values()) if (filter(p)) n += p.shape.reduce((a, d) => a * d, 1);
  return n;
}
