/** Every adaptor kind through ONNX Runtime against the float64 reference. */
import { createGraph, createRng, initParams, type Session } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { createOnnxBackend } from '@unias/backend-onnx';
import { describe, expect, it } from 'vitest';
import { ADAPTOR_KINDS, createAdaptor } from './index.js';

describe('adaptors on ONNX Runtime', () => {
  for (const kind of ADAPTOR_KINDS) {
    it(`${kind} matches the reference (batch 2, dynamic batch)`, async () => {
      const b = createGraph();
      b.output('y', createAdaptor(kind, { out: 8, hidden: 6 }).apply(b, 'a', kind === 'identity' ? b.input('x', [1, 8, 7, 6]) : b.input('x', [1, 5, 7, 6])));
      const g = b.build();
      const params = initParams(g, 2);
      const ci = g.inputs.get('x')!.shape[1]!;
      const x = { dtype: 'float32' as const, shape: [2, ci, 7, 6], data: createRng(3).fillUniform(new Float32Array(2 * ci * 42), -2, 2) };
      const expected = evaluateReference(g, { x }, { params }).y!;
      const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
      let session: Session | undefined;
      try {
        session = await backend.prepare(g, { params, dynamicBatch: true });
        const got = (await session.run({ x })).y!;
        expect(got.shape).toEqual(expected.shape);
        expect(maxRelError(got.data, expected.data)).toBeLessThan(1e-5);
      } finally {
        await session?.dispose();
      }
    });
  }
});
