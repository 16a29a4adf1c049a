/**
 * Gradient checks shared by the tests: a case's outputs are contracted with fixed random
 * cotangents into a scalar loss L = sum_o <y_o, c_o>, `grad` builds dL/dx for every float input,
 * and the backward graph (evaluated by the float64 reference) is compared with central finite
 * differences of the float64 forward.
 *
 * Step and tolerance: in float64 the central difference (L(x+h) - L(x-h)) / 2h has truncation
 * error ~ h^2 |L'''| / 6 and rounding error ~ 1e-16 |L| / h. With h = 1e-6 and O(1) inputs and
 * derivatives that is ~1e-12 + ~1e-10, so a correct rule agrees to ~1e-9 relative; a wrong rule
 * (a missed term, a wrong index) is off by O(1). The check allows 1e-6. Piecewise-linear ops
 * (relu, abs, clip, maximum, max pooling, reduceMax) are only checked at inputs farther than h
 * from their kinks, which random inputs in [-1, 1) are with probability ~1 - 1e-6 per element.
 */
import { GraphBuilder } from '../builder.js';
import type { Graph, Sym } from '../graph.js';
import { createRng, hashString } from '../rng.js';
import { sizeOf, type TensorData } from '../tensor-data.js';
import { caseGraph, type OpCase } from './cases.js';
import { evaluateReference, toRef, type RefTensor } from './reference.js';
import { grad } from '../autodiff/grad.js';

export const FD_STEP = 1e-6;
export const FD_TOLERANCE = 1e-6;

export interface GradCase {
  /** Forward + loss + gradient outputs ('loss', 'grad:<input>'). */
  readonly graph: Graph;
  /** Feeds of the forward inputs and the cotangents (float32 values, as backends get them). */
  readonly feeds: Record<string, TensorData>;
  /** Float inputs the gradient is taken with respect to. */
  readonly wrt: readonly string[];
}

/** Builds a case's forward, the contracted loss and its gradient into one graph. */
export function buildGradCase(c: OpCase): GradCase {
  const { feeds } = caseGraph(c);
  const b = new GraphBuilder();
  c.build(b);
  const fwd = b.build();
  const rng = createRng(hashString(c.id, 77));
  let loss: Sym | null = null;
  for (const [name, y] of fwd.outputs) {
    if (y.dtype !== 'float32') continue;
    const cot = b.input(`cot:${name}`, y.shape);
    feeds[cot.name] = { dtype: 'float32', shape: [...y.shape], data: rng.fillUniform(new Float32Array(sizeOf(y.shape)), -1, 1) };
    const term = b.sumAll(b.mul(y, cot));
    loss = loss ? b.add(loss, term) : term;
  }
  if (!loss) throw new Error(`case ${c.id} has no float output`);
  const wrt = [...fwd.inputs.values()].filter((i) => i.dtype === 'float32');
  const grads = grad(b, loss, wrt);
  b.output('loss', loss);
  wrt.forEach((w, i) => b.output(`grad:${w.name}`, grads[i]!));
  return { graph: b.build(), feeds, wrt: wrt.map((w) => w.name) };
}

export interface FdResult {
  /** Worst |analytic - fd| over the checked coordinates, relative to max |analytic| of that input. */
  readonly maxRelError: number;
  readonly checked: number;
}

/**
 * Compares the reference-evaluated gradient with central differences at up to `perInput`
 * coordinates of each input (all of them for small inputs), plus one random direction over all
 * inputs at once.
 */
export function finiteDifferenceCheck(gc: GradCase, perInput = 48, h = FD_STEP): FdResult {
  const base: Record<string, RefTensor> = {};
  for (const [k, v] of Object.entries(gc.feeds)) base[k] = toRef(v);
  const analytic = evaluateReference(gc.graph, base, { outputs: gc.wrt.map((w) => `grad:${w}`) });
  const lossAt = (feeds: Record<string, RefTensor>) => evaluateReference(gc.graph, feeds, { outputs: ['loss'] })['loss']!.data[0]!;
  const rng = createRng(99);
  let worst = 0;
  let checked = 0;
  for (const name of gc.wrt) {
    const x = base[name]!;
    const gx = analytic[`grad:${name}`]!.data;
    const scale = Math.max(...Array.from(gx, Math.abs), 1e-12);
    const n = x.data.length;
    const coords = n <= perInput ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: perInput }, () => rng.int(n));
    for (const i of coords) {
      const plus = Float64Array.from(x.data);
      const minus = Float64Array.from(x.data);
      plus[i]! += h;
      minus[i]! -= h;
      const fd = (lossAt({ ...base, [name]: { shape: x.shape, data: plus } }) - lossAt({ ...base, [name]: { shape: x.shape, data: minus } })) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - gx[i]!) / scale);
      checked++;
    }
  }
  // One random direction through every input at once (catches cross terms between inputs).
  const plusFeeds = { ...base };
  const minusFeeds = { ...base };
  let directional = 0;
  let magnitude = 0;
  for (const name of gc.wrt) {
    const x = base[name]!;
    const gx = analytic[`grad:${name}`]!.data;
    const plus = Float64Array.from(x.data);
    const minus = Float64Array.from(x.data);
    for (let i = 0; i < plus.length; i++) {
      const v = rng.uniform() * 2 - 1;
      plus[i]! += h * v;
      minus[i]! -= h * v;
      directional += gx[i]! * v;
      magnitude += Math.abs(gx[i]! * v);
    }
    plusFeeds[name] = { shape: x.shape, data: plus };
    minusFeeds[name] = { shape: x.shape, data: minus };
  }
  const fdDir = (lossAt(plusFeeds) - lossAt(minusFeeds)) / (2 * h);
  worst = Math.max(worst, Math.abs(fdDir - directional) / Math.max(magnitude, 1e-12));
  return { maxRelError: worst, checked: checked + 1 };
}
