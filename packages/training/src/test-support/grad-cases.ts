/**
 * Each op case as a gradient case (tests only): its outputs contracted with fixed random
 * cotangents into L = sum_o <y_o, c_o>, and dL/dx for every float input built by `grad` into the
 * same graph. Outputs: 'loss' and 'grad:<input>'.
 */
import { createGraph, createRng, grad, hashString, sizeOf, type Graph, type Sym, type TensorData } from '@unias/graph';
import { caseGraph, type OpCase } from '@unias/graph/testing';

export interface GradCase {
  readonly graph: Graph;
  readonly feeds: Record<string, TensorData>;
  readonly wrt: readonly string[];
}

export function buildGradCase(c: OpCase): GradCase {
  const { feeds } = caseGraph(c);
  const b = createGraph();
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

/** Worst value per key, for a one-line summary. */
export class WorstPerKey {
  private readonly worst = new Map<string, number>();
  add(key: string, value: number): void {
    this.worst.set(key, Math.max(this.worst.get(key) ?? 0, value));
  }
  summary(): string {
    return [...this.worst.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v.toExponential(1)}`).join(' ');
  }
}
