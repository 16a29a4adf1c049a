/** Draws the random inputs of a graph (dropout masks, noise) from a seeded Rng, in input order. */
import type { Graph, RandomSpec } from './graph.js';
import { createRng, type Rng } from './rng.js';
import { sizeOf, type TensorData } from './tensor-data.js';

/** One draw of a random input; into `out` when given (it must hold the shape's size). */
export function drawRandom(spec: RandomSpec, shape: readonly number[], rng: Rng, out?: Float32Array): TensorData<'float32'> {
  const size = sizeOf(shape);
  if (out && out.length !== size) throw new Error(`drawRandom: buffer of ${out.length} values for shape [${shape.join(', ')}]`);
  const data = out ?? new Float32Array(size);
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

/**
 * Fresh draws for every random input of the graph, deterministic for a given Rng state. With
 * `buffers`, each input's array is kept there and refilled on the next call (so those feeds are
 * valid until then): a training step draws tens of megabytes of masks, and first-touching fresh
 * pages every step cost more than drawing into them.
 */
export function drawRandomFeeds(graph: Graph, rng: Rng, buffers?: Map<string, Float32Array>): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  const specs = [...graph.random];
  specs.forEach(([name, spec], i) => {
    const input = graph.inputs.get(name);
    if (!input) throw new Error(`random input "${name}" is not an input of the graph`);
    const size = sizeOf(input.shape);
    let out = buffers?.get(name);
    if (buffers && !out) buffers.set(name, (out = new Float32Array(size)));
    if (spec.kind === 'normal' && spec.gate !== undefined && gateIsClosed(graph, name, spec.gate, specs[i + 1], size, rng)) {
      rng.skipNormals(size);
      feeds[name] = { dtype: 'float32', shape: [...input.shape], data: (out ?? new Float32Array(size)).fill(0) };
    } else {
      feeds[name] = drawRandom(spec, input.shape, rng, out);
    }
  });
  return feeds;
}

/** Whether a gated noise input's gate (drawn right after it) will draw 0: peeks on a copy of the Rng. */
function gateIsClosed(graph: Graph, name: string, gate: string, next: [string, RandomSpec] | undefined, size: number, rng: Rng): boolean {
  const [gateName, gateSpec] = next ?? [];
  if (gateName !== gate || gateSpec?.kind !== 'bernoulli' || sizeOf(graph.inputs.get(gate)?.shape ?? []) !== 1)
    throw new Error(`random input "${name}": its gate "${gate}" must be the one-element bernoulli input drawn right after it`);
  const peek = createRng(rng.state());
  peek.skipNormals(size);
  return !(peek.uniform() < gateSpec.p);
}
