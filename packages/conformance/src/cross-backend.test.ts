/**
 * The two backends against each other, case by case: every op case of @unias/graph/testing runs on
 * onnxruntime and on tfjs (wasm and cpu) from the same graph and feeds, and the outputs must agree
 * to 1e-5 relative. Each backend package also checks itself against the float64 reference; this
 * suite is the direct ORT-vs-tfjs comparison the foundation issue asks for.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { OP_CASES, caseGraph, maxRelError } from '@unias/graph/testing';
import type { Session, TensorData } from '@unias/graph';
import { conformanceBackends, type NamedBackend } from './backends.js';

let backends: NamedBackend[] = [];
const worst = new Map<string, { error: number; id: string }>();

beforeAll(async () => {
  backends = await conformanceBackends();
});

afterAll(() => {
  const rows = [...worst.entries()].map(([pair, w]) => `${pair}: ${w.error.toExponential(2)} (${w.id})`);
  console.log(`worst ORT vs tfjs relative error per pair:\n  ${rows.join('\n  ')}`);
});

async function runOn(b: NamedBackend, graph: ReturnType<typeof caseGraph>['graph'], feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  let session: Session | undefined;
  try {
    session = await b.backend.prepare(graph);
    return await session.run(feeds);
  } finally {
    await session?.dispose();
  }
}

describe('ORT vs tfjs on every op case', () => {
  it.each(OP_CASES.map((c) => [c.id, c] as const))('%s', async (_, c) => {
    const { graph, feeds } = caseGraph(c);
    const [ort, ...tfjs] = backends;
    const base = await runOn(ort!, graph, feeds);
    for (const other of tfjs) {
      const out = await runOn(other, graph, feeds);
      for (const name of graph.outputs.keys()) {
        const a = out[name]!;
        const e = base[name]!;
        expect(a.shape, `${other.label} ${name} shape`).toEqual(e.shape);
        expect(a.dtype).toBe(e.dtype);
        const err = maxRelError(a.data, e.data);
        const key = `${ort!.label} vs ${other.label}`;
        if (err > (worst.get(key)?.error ?? -1)) worst.set(key, { error: err, id: c.id });
        expect(err, `${other.label} vs ${ort!.label}, output ${name}`).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
      }
    }
  });
});
