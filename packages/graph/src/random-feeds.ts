/** Draws the random inputs of a graph (dropout masks, noise) from a seeded Rng, in input order. */
import type { Graph, RandomSpec } from './graph.js';
import type { Rng } from './rng.js';
import { fillBernoulliLanes, fillNormalLanes } from './rng-lanes.js';
import { sizeOf, type TensorData } from './tensor-data.js';

/** One draw of a random input; into `out` when given (it must hold the shape's size). */
export function drawRandom(spec: RandomSpec, shape: readonly number[], rng: Rng, out?: Float32Array): TensorData<'float32'> {
  const size = sizeOf(shape);
  if (out && out.length !== size) throw new Error(`drawRandom: buffer of ${out.length} values for shape [${shape.join(', ')}]`);
  const data = out ?? new Float32Array(size);
  switch (spec.kind) {
    case 'dropout':
      fillBernoulliLanes(rng, data, spec.p, 0, 1 / (1 - spec.p));
      break;
    case 'bernoulli':
      fillBernoulliLanes(rng, data, spec.p);
      break;
    case 'normal':
      fillNormalLanes(rng, data);
      break;
  }
  return { dtype: 'float32', shape: [...shape], data };
}

/**
 * Fresh draws for every random input of the graph, deterministic for a given Rng state. With
 * `buffers`, each input's array is kept there and refilled on the next call (so those feeds are
 * valid until then; a gated noise input also keeps a zero array for its closed gate): a training
 * step draws tens of megabytes of masks, and first-touching fresh pages every step cost more than
 * drawing into them.
 */
export function drawRandomFeeds(graph: Graph, rng: Rng, buffers?: Map<string, Float32Array>): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  const specs = [...graph.random];
  // a gate is drawn before its noise (so a closed gate draws no noise) and fed when its turn comes
  let gateValue: number | undefined;
  specs.forEach(([name, spec], i) => {
    const input = graph.inputs.get(name);
    if (!input) throw new Error(`random input "${name}" is not an input of the graph`);
    const size = sizeOf(input.shape);
    let out = buffers?.get(name);
    if (buffers && !out) buffers.set(name, (out = new Float32Array(size)));
    const tensor = (data: Float32Array): TensorData => ({ dtype: 'float32', shape: [...input.shape], data });
    if (gateValue !== undefined) {
      feeds[name] = tensor((out ?? new Float32Array(size)).fill(gateValue));
      gateValue = undefined;
    } else if (spec.kind === 'normal' && spec.gate !== undefined) {
      gateValue = rng.uniform() < gateProbability(graph, name, spec.gate, specs[i + 1]) ? 1 : 0;
      feeds[name] = gateValue === 1 ? drawRandom(spec, input.shape, rng, out) : tensor(zerosFor(name, size, buffers));
    } else {
      feeds[name] = drawRandom(spec, input.shape, rng, out);
    }
  });
  return feeds;
}

/**
 * A closed gate's noise: zeros kept in their own buffer, never written, so that a closed gate
 * costs no fill (3.2M values for the `cpu` preset's largest jitter input).
 */
function zerosFor(name: string, size: number, buffers: Map<string, Float32Array> | undefined): Float32Array {
  if (!buffers) return new Float32Array(size);
  const key = `${name} (zeros)`;
  let zeros = buffers.get(key);
  if (!zeros) buffers.set(key, (zeros = new Float32Array(size)));
  return zeros;
}

/** The p of a gated noise input's gate, which must be the one-element bernoulli input right after it. */
function gateProbability(graph: Graph, name: string, gate: string, next: [string, RandomSpec] | undefined): number {
  const [gateName, gateSpec] = next ?? [];
  if (gateName !== gate || gateSpec?.kind !== 'bernoulli' || sizeOf(graph.inputs.get(gate)?.shape ?? []) !== 1)
    throw new Error(`random input "${name}": its gate "${gate}" must be the one-element bernoulli input drawn right after it`);
  return gateSpec.p;
}
