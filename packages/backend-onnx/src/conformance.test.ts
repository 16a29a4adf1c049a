/**
 * Every conformance case of @unias/graph through ONNX Runtime, against the float64 reference.
 */
import { OP_NAMES, type Session, type TensorData } from '@unias/graph';
import { OP_CASES, caseGraph, evaluateReference, maxRelError } from '@unias/graph/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend, LOWERINGS, type OnnxBackend } from './index.js';

let backend: OnnxBackend;
beforeAll(async () => {
  backend = await createOnnxBackend({ intraOpNumThreads: 1 });
});

const worst = new Map<string, number>();
afterAll(() => {
  const rows = [...worst.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(`largest relative errors vs reference: ${rows.map(([id, e]) => `${id} ${e.toExponential(2)}`).join(', ')}`);
});

describe('op conformance on ONNX Runtime (cpu)', () => {
  it('has a lowering and at least one case for every op', () => {
    for (const op of OP_NAMES) {
      expect(typeof LOWERINGS[op], op).toBe('function');
      expect(OP_CASES.some((c) => c.op === op), `case for ${op}`).toBe(true);
    }
  });

  for (const c of OP_CASES) {
    it(c.id, async () => {
      const { graph, feeds } = caseGraph(c);
      const reference = evaluateReference(graph, feeds);
      let session: Session | undefined;
      try {
        session = await backend.prepare(graph);
        const out = await session.run(feeds);
        for (const [name, expected] of Object.entries(reference)) {
          const actual: TensorData | undefined = out[name];
          expect(actual, `output ${name}`).toBeDefined();
          expect(actual!.shape).toEqual(expected.shape);
          const err = maxRelError(actual!.data, expected.data);
          worst.set(`${c.id}:${name}`, err);
          expect(err, `${c.id} output ${name}`).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
        }
      } finally {
        await session?.dispose();
      }
    });
  }
});
