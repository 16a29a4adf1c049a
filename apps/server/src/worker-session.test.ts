import { describe, expect, it } from 'vitest';
import { sessionOptionsFor } from './loaded-model.js';
import { anomalyTestModel, convCostModel, referenceAnomalyMap } from './testing/test-models.js';
import { createWorkerSession } from './worker-session.js';

describe('createWorkerSession', () => {
  it('runs in a worker process: the event loop keeps turning during inference', async () => {
    // ~15 GFLOP: long enough that a 1 ms timer must fire during the run unless the loop is blocked
    // (with onnxruntime-node's own run on the main thread it never does).
    const session = await createWorkerSession(convCostModel({ height: 224, width: 224, channels: 64, layers: 4 }), sessionOptionsFor(), 'heavy');
    try {
      const image = () => ({ image: { data: new Float32Array(3 * 224 * 224).fill(0.5), dims: [1, 3, 224, 224] } });
      await session.run(image(), { image: 'float32' });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const out = await session.run(image(), { image: 'float32' });
      clearInterval(timer);
      expect(out['anomaly_map']!.dims).toEqual([1, 1, 224, 224]);
      expect(ticks).toBeGreaterThan(0);
    } finally {
      await session.release();
    }
  });

  it('returns outputs equal to the closed form', async () => {
    const session = await createWorkerSession(anomalyTestModel({ height: 4, width: 5 }), sessionOptionsFor({ threads: 1 }), 'small');
    try {
      expect(session.inputMetadata.map((m) => m.name)).toEqual(['image']);
      const x = Float32Array.from({ length: 2 * 3 * 20 }, (_, i) => (i % 11) / 10);
      const expected = referenceAnomalyMap(x, 2, 4, 5);
      const out = await session.run({ image: { data: x, dims: [2, 3, 4, 5] } }, { image: 'float32' });
      const map = out['anomaly_map']!.data as Float32Array;
      expect(Math.max(...Array.from(map, (v, i) => Math.abs(v - expected.map[i]!)))).toBeLessThan(1e-6);
      expect(Array.from(out['score']!.data as Float32Array, (v, i) => Math.abs(v - expected.score[i]!)).every((d) => d < 1e-6)).toBe(true);
    } finally {
      await session.release();
    }
    expect(session.healthy).toBe(false);
    await expect(session.run({}, {})).rejects.toThrow(/exited|released/);
  });

  it('reports run errors without dying, and load errors as rejections', async () => {
    const session = await createWorkerSession(anomalyTestModel({ height: 4, width: 5 }), sessionOptionsFor({ threads: 1 }), 'small');
    try {
      await expect(session.run({ image: { data: new Float32Array(3 * 9), dims: [1, 3, 3, 3] } }, { image: 'float32' })).rejects.toThrow(
        /dimension|shape|Got invalid/i,
      );
      expect(session.healthy).toBe(true);
      const ok = await session.run({ image: { data: new Float32Array(60), dims: [1, 3, 4, 5] } }, { image: 'float32' });
      expect(ok['score']!.dims).toEqual([1]);
    } finally {
      await session.release();
    }
    await expect(createWorkerSession(new Uint8Array([1, 2, 3]), sessionOptionsFor(), 'junk')).rejects.toThrow(/protobuf|parse|load/i);
  });
});
