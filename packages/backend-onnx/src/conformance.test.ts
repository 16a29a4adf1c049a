/**
 * Every conformance case of @unias/graph through ONNX Runtime, against the float64 reference,
 * with ORT's graph optimisations on (the default) and off: a fusion that changed results shows.
 */
import { createRng, GraphBuilder, OP_NAMES, type Session, type TensorData } from '@unias/graph';
import { OP_CASES, buildGradCase, caseGraph, evaluateReference, maxRelError } from '@unias/graph/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOnnxBackend, LOWERINGS, type OnnxBackend } from './index.js';

const LEVELS = ['all', 'disabled'] as const;
const backends = new Map<string, OnnxBackend>();
beforeAll(async () => {
  for (const level of LEVELS) backends.set(level, await createOnnxBackend({ intraOpNumThreads: 1, graphOptimizationLevel: level }));
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
      expect(
        OP_CASES.some((c) => c.op === op),
        `case for ${op}`,
      ).toBe(true);
    }
  });

  for (const c of OP_CASES) {
    it(c.id, async () => {
      const { graph, feeds } = caseGraph(c);
      const reference = evaluateReference(graph, feeds);
      for (const level of LEVELS) {
        let session: Session | undefined;
        try {
          session = await backends.get(level)!.prepare(graph);
          const out = await session.run(feeds);
          for (const [name, expected] of Object.entries(reference)) {
            const actual: TensorData | undefined = out[name];
            const what = `${c.id} output ${name} (optimisation ${level})`;
            expect(actual, what).toBeDefined();
            expect(actual!.shape, what).toEqual(expected.shape);
            const err = maxRelError(actual!.data, expected.data);
            const key = `${c.id}:${name}`;
            worst.set(key, Math.max(worst.get(key) ?? 0, err));
            expect(err, what).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
          }
        } finally {
          await session?.dispose();
        }
      }
    });
  }
});

describe('layout and selection ops on int32 and bool tensors', () => {
  // The graph allows these ops on every dtype; ONNX kernels differ per type, so each is exercised.
  for (const dtype of ['int32', 'bool'] as const) {
    it(dtype, async () => {
      const b = new GraphBuilder();
      const x = b.input('x', [2, 3, 4], dtype);
      const m = b.input('m', [3, 4], 'bool');
      const t = b.transpose(b.reshape(x, [0, 4, 3]), [0, 2, 1]); // [2,3,4]
      const s = b.slice(b.concat([t, x], 2), 2, 1, 8, 3); // [2,3,3]
      const p = b.pad(s, [0, 1, 0, 0, 0, 2], 'constant', dtype === 'bool' ? 1 : -7); // [2,4,5]
      const e = b.broadcastTo(b.slice(x, 0, 0, 1), [2, 3, 4]);
      const w = b.where(m, e, x);
      b.output('pad', b.cast(p, 'float32'));
      b.output('where', b.cast(w, 'float32'));
      b.output('eq', b.cast(b.equal(w, x), 'float32'));
      b.output('gt', b.cast(b.greater(t, x), 'float32'));
      b.output('lt', b.cast(b.less(t, x), 'float32'));
      b.output('as_int', b.cast(w, dtype === 'bool' ? 'int32' : 'bool'));
      const graph = b.build();
      const rng = createRng(dtype === 'bool' ? 1 : 2);
      const data = Array.from({ length: 24 }, () => (dtype === 'bool' ? rng.int(2) : rng.int(9) - 4));
      const feeds: Record<string, TensorData> = {
        x: dtype === 'bool' ? { dtype, shape: [2, 3, 4], data: Uint8Array.from(data) } : { dtype, shape: [2, 3, 4], data: Int32Array.from(data) },
        m: { dtype: 'bool', shape: [3, 4], data: Uint8Array.from({ length: 12 }, () => rng.int(2)) },
      };
      const reference = evaluateReference(graph, feeds);
      for (const backend of backends.values()) {
        const session = await backend.prepare(graph);
        const out = await session.run(feeds);
        for (const [name, expected] of Object.entries(reference)) {
          expect(out[name]!.shape, name).toEqual(expected.shape);
          expect([...out[name]!.data], name).toEqual([...expected.data]);
        }
        expect(out.as_int!.dtype).toBe(dtype === 'bool' ? 'int32' : 'bool');
        await session.dispose();
      }
    });
  }
});

describe('backward graphs (from @unias/graph autodiff) on ONNX Runtime', () => {
  // Each differentiable case's outputs are contracted with fixed cotangents into a loss; the
  // gradient graph `grad` appends is lowered like any other graph and checked against the reference.
  for (const c of OP_CASES.filter((oc) => oc.differentiable !== false)) {
    it(c.id, async () => {
      const { graph, feeds } = buildGradCase(c);
      const reference = evaluateReference(graph, feeds);
      const session = await backends.get('all')!.prepare(graph);
      const out = await session.run(feeds);
      for (const [name, expected] of Object.entries(reference)) {
        const err = maxRelError(out[name]!.data, expected.data);
        worst.set(`backward ${c.id}:${name}`, err);
        expect(err, `${c.id} ${name}`).toBeLessThanOrEqual(c.tolerance ?? 1e-5);
      }
      await session.dispose();
    });
  }
});
