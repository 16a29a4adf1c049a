/** Shared by the tests (not exported from the package). */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sizeOf, type Graph, type OpNode, type TensorData } from '@unias/graph';
import type { Backbone } from './backbone.js';
import { buildBackboneGraph } from './weights/check.js';

export const packageRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

/** Output shapes of the taps for an input of size x size. */
export function tapShapes(backbone: Backbone, size: number, taps?: readonly string[]): Record<string, number[]> {
  const { full } = buildBackboneGraph(backbone, { size, ...(taps ? { taps } : {}) });
  const out: Record<string, number[]> = {};
  for (const [name, node] of full.outputs) out[name] = [...node.shape];
  return out;
}

/** Name -> shape of every parameter of a graph. */
export function paramShapes(graph: Graph): Map<string, number[]> {
  return new Map([...graph.params.values()].map((p) => [p.name, [...p.shape]]));
}

/** The conv2d node built in a scope (e.g. "_blocks.6._depthwise_conv"). */
export function convIn(graph: Graph, scope: string): OpNode<'conv2d'> {
  const node = graph.nodes.find((n): n is OpNode<'conv2d'> => n.kind === 'op' && n.op === 'conv2d' && n.scope === scope);
  if (!node) throw new Error(`no conv2d in scope ${scope}`);
  return node;
}

/** A deterministic pseudo-random tensor in [lo, hi) (xorshift32). */
export function noise(shape: readonly number[], seed: number, lo = -1, hi = 1): TensorData<'float32'> {
  const data = new Float32Array(sizeOf(shape));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    data[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return { dtype: 'float32', shape: [...shape], data };
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export { existsSync };
