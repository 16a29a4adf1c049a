/** Draws the random inputs of a graph (dropout masks, noise) from a seeded Rng, in input order. */
import type { Graph, RandomSpec } from './graph.js';
import type { Rng } from './rng.js';
import { sizeOf, type TensorData } from './tensor-data.js';

export function drawRandom(spec: RandomSpec, shape: readonly number[], rng: Rng): TensorData<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  switch (spec.kind) {
    case 'dropout':
      rng.fillBernoulli(data, spec.p, 0, 1 / (1 - spec.p));
      break;
    case 'bernoulli':
      rng.fillBernoulli(data, spec.p);
      break;
    case 'normal':
      rng.fillNormal(data);
      break;
  }
  return { dtype: 'float32', shape: [...shape], data };
}

/** Fresh draws for every random input of the graph, deterministic for a given Rng state. */
export function drawRandomFeeds(graph: Graph, rng: Rng): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const [name, spec] of graph.random) {
    const input = graph.inputs.get(name);
    if (!input) throw new Error(`random input "${name}" is not an input of the graph`);
    feeds[name] = drawRandom(spec, input.shape, rng);
  }
  return feeds;
}
