/** Shared by the tests (not exported from the package). */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sizeOf, type Graph, type OpNode, type TensorData } from '@unias/graph';
import type { Backbone } from '../backbone.js';
import { buildBackboneGraph } from '../weights/check.js';

export const packageRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

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

/** n values in [0, 1) from an integer hash of (element index, tensor index k); as tools/make-resnet-fixtures.py. */
export function hashUniform(k: number, n: number): Float64Array {
  const out = new Float64Array(n);
  const kk = Math.imul(k, 0x85ebca77);
  for (let i = 0; i < n; i++) {
    let h = (Math.imul(i, 0x9e3779b1) + kk) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x2c1b3c6d) >>> 0;
    h = (h ^ (h >>> 12)) >>> 0;
    out[i] = h / 4294967296;
  }
  return out;
}

/** Weights by formula for every parameter of a graph (k = index in sorted names), as the fixture script. */
export function formulaWeights(graph: Graph): Map<string, TensorData<'float32'>> {
  const names = [...graph.params.keys()].sort();
  const out = new Map<string, TensorData<'float32'>>();
  names.forEach((name, k) => {
    const shape = graph.params.get(name)!.shape;
    const u = hashUniform(k, sizeOf(shape));
    const data = new Float32Array(u.length);
    const fanIn = shape.length >= 2 ? sizeOf(shape.slice(1)) : 1;
    for (let i = 0; i < u.length; i++) {
      const x = u[i]!;
      if (name.endsWith('running_var')) data[i] = 0.5 + x;
      else if (name.endsWith('running_mean')) data[i] = 0.2 * (x - 0.5);
      else if (shape.length >= 2) data[i] = (2 * x - 1) * Math.sqrt(3 / fanIn);
      else if (name.endsWith('weight')) data[i] = 0.5 + x;
      else data[i] = 0.2 * (x - 0.5);
    }
    out.set(name, { dtype: 'float32', shape: [...shape], data });
  });
  return out;
}

/** True when two float arrays hold the same values, bit for bit (fast, unlike toEqual on big arrays). */
export function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
