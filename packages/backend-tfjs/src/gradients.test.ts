/**
 * tfjs autodiff through the interpreter (`tf.grads` over `runGraphTf`) for every differentiable
 * conformance case, on cpu and wasm, against central finite differences of the float64 reference.
 *
 * Loss L = sum over float outputs of <y, c> with fixed random cotangents c. Checked: dL/dx at up to
 * 12 coordinates of each float input, relative to max |dL/dx| of that input, plus one random
 * direction through all inputs at once. In float64 with h = 1e-6 the finite difference is good to
 * ~1e-9; the float32 gradient to ~1e-6; a wrong gradient (a missed term, a swapped axis) is O(1) off.
 */
import * as tf from '@tensorflow/tfjs';
import { sizeOf, type TensorData } from '@unias/graph';
import { OP_CASES, caseGraph, evaluateReference, toRef, type OpCase, type RefTensor } from '@unias/graph/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { toTensor } from './convert.js';
import { runGraphTf } from './interpreter.js';
import { numTensors, useRuntime, values } from './testing/utils.js';

const H = 1e-6;
const COORDS = 12;
const TOLERANCE = 2e-5;

interface Probe {
  readonly wrt: readonly string[];
  readonly feeds: Record<string, TensorData>;
  readonly cot: Record<string, Float32Array>;
  /** (coordinate or 'dir', input) -> finite difference */
  readonly coords: ReadonlyArray<{ input: string; index: number; fd: number }>;
  readonly direction: Record<string, Float64Array>;
  readonly fdDirection: number;
}

function buildProbe(c: OpCase): Probe {
  const { graph, feeds } = caseGraph(c);
  const wrt = [...graph.inputs.values()].filter((i) => i.dtype === 'float32').map((i) => i.name);
  const cot: Record<string, Float32Array> = {};
  let seed = 11;
  for (const [name, y] of graph.outputs) if (y.dtype === 'float32') cot[name] = values(sizeOf(y.shape), seed++);
  const base: Record<string, RefTensor> = {};
  for (const [k, v] of Object.entries(feeds)) base[k] = toRef(v);
  const loss = (f: Record<string, RefTensor>): number => {
    const out = evaluateReference(graph, f);
    let l = 0;
    for (const [name, c] of Object.entries(cot)) {
      const y = out[name]!.data;
      for (let i = 0; i < y.length; i++) l += y[i]! * c[i]!;
    }
    return l;
  };
  const shifted = (name: string, delta: (data: Float64Array) => void): Record<string, RefTensor> => {
    const data = Float64Array.from(base[name]!.data);
    delta(data);
    return { ...base, [name]: { shape: base[name]!.shape, data } };
  };
  const coords: Array<{ input: string; index: number; fd: number }> = [];
  for (const name of wrt) {
    const n = base[name]!.data.length;
    const picks = n <= COORDS ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: COORDS }, (_, k) => Math.floor(((k + 0.5) * n) / COORDS));
    for (const index of picks) {
      const fd = (loss(shifted(name, (d) => (d[index]! += H))) - loss(shifted(name, (d) => (d[index]! -= H)))) / (2 * H);
      coords.push({ input: name, index, fd });
    }
  }
  const direction: Record<string, Float64Array> = {};
  const plus = { ...base };
  const minus = { ...base };
  wrt.forEach((name, k) => {
    const v = Float64Array.from(values(base[name]!.data.length, 100 + k));
    direction[name] = v;
    plus[name] = { shape: base[name]!.shape, data: base[name]!.data.map((x, i) => x + H * v[i]!) };
    minus[name] = { shape: base[name]!.shape, data: base[name]!.data.map((x, i) => x - H * v[i]!) };
  });
  return { wrt, feeds, cot, coords, direction, fdDirection: (loss(plus) - loss(minus)) / (2 * H) };
}

/** dL/dx for every float input, by tf.grads through the interpreter on the current runtime. */
function tfGradients(c: OpCase, probe: Probe): Record<string, Float32Array> {
  const { graph } = caseGraph(c);
  return tf.tidy(() => {
    const fixed: Record<string, tf.Tensor> = {};
    for (const [name, v] of Object.entries(probe.feeds)) if (!probe.wrt.includes(name)) fixed[name] = toTensor(v, name);
    const xs = probe.wrt.map((name) => toTensor(probe.feeds[name]!, name));
    const cots = Object.entries(probe.cot).map(([name, c]): [string, tf.Tensor] => [name, tf.tensor(c, [...graph.outputs.get(name)!.shape])]);
    const f = (...args: tf.Tensor[]): tf.Tensor => {
      const feeds: Record<string, tf.Tensor> = { ...fixed };
      probe.wrt.forEach((name, i) => (feeds[name] = args[i]!));
      const out = runGraphTf(graph, feeds);
      return tf.addN(cots.map(([name, cot]) => tf.sum(tf.mul(out[name]!, cot))));
    };
    const gs = tf.grads(f)(xs);
    const result: Record<string, Float32Array> = {};
    probe.wrt.forEach((name, i) => (result[name] = Float32Array.from(gs[i]!.dataSync())));
    return result;
  });
}

function worstError(probe: Probe, grads: Record<string, Float32Array>): number {
  let worst = 0;
  for (const { input, index, fd } of probe.coords) {
    const g = grads[input]!;
    const scale = Math.max(...Array.from(g, Math.abs), 1e-12);
    worst = Math.max(worst, Math.abs(g[index]! - fd) / scale);
  }
  let directional = 0;
  let magnitude = 0;
  for (const name of probe.wrt) {
    const g = grads[name]!;
    const v = probe.direction[name]!;
    for (let i = 0; i < g.length; i++) {
      directional += g[i]! * v[i]!;
      magnitude += Math.abs(g[i]! * v[i]!);
    }
  }
  return Math.max(worst, Math.abs(directional - probe.fdDirection) / Math.max(magnitude, 1e-12));
}

const probes = new Map<string, Probe>();
function probeOf(c: OpCase): Probe {
  let p = probes.get(c.id);
  if (!p) {
    p = buildProbe(c);
    probes.set(c.id, p);
  }
  return p;
}

const differentiable = OP_CASES.filter((c) => c.differentiable !== false);

for (const runtime of ['tfjs-cpu', 'tfjs-wasm'] as const) {
  describe(`tf.grads through the interpreter on ${runtime} matches finite differences`, () => {
    afterAll(async () => {
      await useRuntime('tfjs-cpu');
    });
    for (const c of differentiable) {
      it(c.id, async () => {
        const probe = probeOf(c);
        await useRuntime(runtime);
        const before = numTensors();
        const grads = tfGradients(c, probe);
        expect(numTensors(), 'tensors leaked by tf.grads over runGraphTf').toBe(before);
        expect(worstError(probe, grads)).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  });
}
