/**
 * Every conformance case of @unias/graph/testing on the cpu and wasm runtimes, through a real
 * session, against the float64 reference evaluator; no tensor may outlive its session.
 */
import { OP_NAMES } from '@unias/graph';
import { OP_CASES, caseGraph, evaluateReference, maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsBackend, type TfjsBackend } from './backend.js';
import { TF_KERNELS } from './kernels/index.js';
import { numTensors } from './testing/utils.js';

describe('coverage', () => {
  it('has a kernel and at least one case for every op, and no kernel for an unknown op', () => {
    for (const op of OP_NAMES) {
      expect(typeof TF_KERNELS[op], op).toBe('function');
      expect(
        OP_CASES.some((c) => c.op === op),
        `case for ${op}`,
      ).toBe(true);
    }
    expect(Object.keys(TF_KERNELS).sort()).toEqual([...OP_NAMES].sort());
  });
});

for (const runtime of ['tfjs-cpu', 'tfjs-wasm'] as const) {
  describe(`${runtime} matches the float64 reference`, () => {
    let backend: TfjsBackend;
    beforeAll(async () => {
      backend = await createTfjsBackend({ prefer: [runtime] });
    });

    for (const c of OP_CASES) {
      it(c.id, async () => {
        const { graph, feeds } = caseGraph(c);
        const want = evaluateReference(graph, feeds);
        const before = numTensors();
        const session = await backend.prepare(graph);
        expect(session.backend).toBe(runtime);
        const resident = numTensors();
        const got = await session.run(feeds);
        expect(numTensors(), 'tensors left after run').toBe(resident);
        await session.dispose();
        expect(numTensors(), 'tensors left after dispose').toBe(before);
        expect(Object.keys(got).sort()).toEqual([...graph.outputs.keys()].sort());
        for (const [name, ref] of Object.entries(want)) {
          const out = got[name]!;
          expect(out.shape, name).toEqual(ref.shape);
          expect(maxRelError(out.data, ref.data), `${c.id} output ${name}`).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
          const closed = c.expected?.[name];
          if (closed) expect(maxRelError(out.data, closed), `${c.id} closed form ${name}`).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
        }
      });
    }
  });
}
