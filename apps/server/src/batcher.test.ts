import { describe, expect, it } from 'vitest';
import { createBatcher, type BatchInfo, type TensorMap } from './batcher.js';

/** A fake model: out = 2 * x + sampleOffset, per sample; records each run's batch. */
function fakeRun(runs: number[][]) {
  return async (inputs: TensorMap): Promise<TensorMap> => {
    const x = inputs['x']!;
    const n = x.dims[0]!;
    runs.push(Array.from(x.data as Float32Array));
    const y = new Float32Array(x.data.length);
    for (let i = 0; i < y.length; i++) y[i] = 2 * (x.data as Float32Array)[i]!;
    const s = new Float32Array(n);
    const per = x.data.length / n;
    for (let b = 0; b < n; b++) s[b] = (x.data as Float32Array)[b * per]! + 100;
    await new Promise((r) => setTimeout(r, 5));
    return { y: { data: y, dims: [...x.dims] }, s: { data: s, dims: [n] } };
  };
}

const input = (values: number[], per = 2): TensorMap => ({
  x: { data: Float32Array.from(values), dims: [values.length / per, per] },
});

describe('createBatcher', () => {
  it('stacks concurrent requests into one run and gives each its own slice', async () => {
    const runs: number[][] = [];
    const infos: BatchInfo[] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 50, waitPolicy: 'fixed', batchable: true, run: fakeRun(runs), onBatch: (i) => infos.push(i) });
    const results = await Promise.all([b.submit(input([1, 2])), b.submit(input([3, 4, 5, 6])), b.submit(input([7, 8]))]);
    expect(runs).toEqual([[1, 2, 3, 4, 5, 6, 7, 8]]);
    expect(infos.map((i) => [i.size, i.requests, i.reason])).toEqual([[4, 3, 'timer']]);
    expect(Array.from(results[0]!['y']!.data as Float32Array)).toEqual([2, 4]);
    expect(results[0]!['y']!.dims).toEqual([1, 2]);
    expect(Array.from(results[1]!['y']!.data as Float32Array)).toEqual([6, 8, 10, 12]);
    expect(results[1]!['y']!.dims).toEqual([2, 2]);
    expect(Array.from(results[1]!['s']!.data as Float32Array)).toEqual([103, 105]);
    expect(Array.from(results[2]!['s']!.data as Float32Array)).toEqual([107]);
  });

  it('never exceeds maxBatchSize and runs the rest in the next batch', async () => {
    const runs: number[][] = [];
    const b = createBatcher({ maxBatchSize: 2, maxWaitMs: 50, waitPolicy: 'fixed', batchable: true, run: fakeRun(runs) });
    await Promise.all([1, 2, 3, 4, 5].map((v) => b.submit(input([v, v]))));
    expect(runs.map((r) => r.length / 2)).toEqual([2, 2, 1]);
    expect(runs.flat()).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });

  it('keeps requests of different shapes in separate runs', async () => {
    const runs: number[][] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 20, waitPolicy: 'fixed', batchable: true, run: fakeRun(runs) });
    const [a, c, d] = await Promise.all([b.submit(input([1, 2])), b.submit(input([3, 4, 5], 3)), b.submit(input([6, 7]))]);
    expect(runs).toEqual([
      [1, 2, 6, 7],
      [3, 4, 5],
    ]);
    expect(Array.from(a!['y']!.data as Float32Array)).toEqual([2, 4]);
    expect(Array.from(c!['y']!.data as Float32Array)).toEqual([6, 8, 10]);
    expect(Array.from(d!['y']!.data as Float32Array)).toEqual([12, 14]);
  });

  it('runs every request alone when the model is not batchable', async () => {
    const runs: number[][] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 20, waitPolicy: 'fixed', batchable: false, run: fakeRun(runs) });
    await Promise.all([b.submit(input([1, 1])), b.submit(input([2, 2]))]);
    expect(runs).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('adaptive: a lone request does not wait; it waits while others are announced', async () => {
    const infos: BatchInfo[] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 60_000, batchable: true, run: fakeRun([]), onBatch: (i) => infos.push(i) });
    await b.submit(input([1, 1]));
    expect(infos.map((i) => i.reason)).toEqual(['no-other-requests']);

    // Two requests announced; the first queued waits until the second arrives, then both run together.
    const t1 = b.expect();
    const t2 = b.expect();
    const p1 = b.submit(input([2, 2]), { ticket: t1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(infos).toHaveLength(1);
    expect(b.queuedRequests).toBe(1);
    const p2 = b.submit(input([3, 3]), { ticket: t2 });
    await Promise.all([p1, p2]);
    expect(infos.map((i) => [i.requests, i.reason])).toEqual([
      [1, 'no-other-requests'],
      [2, 'no-other-requests'],
    ]);

    // An announced request that fails before submitting releases the waiting one.
    const t3 = b.expect();
    const t4 = b.expect();
    const p3 = b.submit(input([4, 4]), { ticket: t3 });
    t4.cancel();
    await p3;
    expect(infos.at(-1)!.requests).toBe(1);
  });

  it('queues requests that arrive during a run and runs them together right after', async () => {
    const runs: number[][] = [];
    const infos: BatchInfo[] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 0, batchable: true, run: fakeRun(runs), onBatch: (i) => infos.push(i) });
    const first = b.submit(input([1, 1]));
    const rest = [2, 3, 4].map((v) => b.submit(input([v, v])));
    await Promise.all([first, ...rest]);
    expect(runs).toEqual([
      [1, 1],
      [2, 2, 3, 3, 4, 4],
    ]);
    expect(infos.map((i) => i.reason)).toEqual(['no-other-requests', 'after-run']);
  });

  it('an aborted request leaves the queue and is rejected with the reason', async () => {
    const runs: number[][] = [];
    const b = createBatcher({ maxBatchSize: 8, maxWaitMs: 100, waitPolicy: 'fixed', batchable: true, run: fakeRun(runs) });
    const controller = new AbortController();
    const kept = b.submit(input([1, 1]));
    const dropped = b.submit(input([2, 2]), { signal: controller.signal });
    controller.abort(new Error('deadline'));
    await expect(dropped).rejects.toThrow('deadline');
    await kept;
    expect(runs).toEqual([[1, 1]]);
    await b.idle();
  });

  it('a failing run rejects every request in it and the next run still happens', async () => {
    let calls = 0;
    const b = createBatcher({
      maxBatchSize: 8,
      maxWaitMs: 10,
      waitPolicy: 'fixed',
      batchable: true,
      run: async (inputs) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return { y: inputs['x']! };
      },
    });
    const results = await Promise.allSettled([b.submit(input([1, 1])), b.submit(input([2, 2]))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    const ok = await b.submit(input([3, 3]));
    expect(Array.from(ok['y']!.data as Float32Array)).toEqual([3, 3]);
  });

  it('rejects a batch whose output has no matching first dimension', async () => {
    const b = createBatcher({
      maxBatchSize: 8,
      maxWaitMs: 10,
      waitPolicy: 'fixed',
      batchable: true,
      run: async () => ({ y: { data: new Float32Array(1), dims: [1] } }),
    });
    const results = await Promise.allSettled([b.submit(input([1, 1])), b.submit(input([2, 2]))]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/cannot split/);
    }
  });
});
