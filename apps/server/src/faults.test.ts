/**
 * Faults: a model worker killed with SIGKILL mid-request, the run watchdog, restarts with backoff and
 * giving up (liveness), the shutdown deadline, and 500s that carry no internal text.
 */
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { createSupervisedSession, type SupervisorEvent } from './supervised-session.js';
import { binaryInferBody, errorMessage, postJson, startTestServer, TEST_SIZE, untilInflight, untilStatus, type RunningServer } from './testing/harness.js';
import { convCostModel } from './testing/test-models.js';
import { WorkerCrashError, type WorkerSession } from './worker-session.js';

const { height: H, width: W } = TEST_SIZE;
const onnx = onnxProto.onnx;

/** ~15 GFLOP per image: a run lasts long enough (>= 50 ms here) to be interrupted. */
const HEAVY = { height: 224, width: 224, channels: 64, layers: 4 } as const;
const heavyRequest = () => binaryInferBody(new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]);
const postBinary = (url: string, r: { body: Buffer; headers: Record<string, string> }) =>
  fetch(`${url}/v2/models/heavy/infer`, { method: 'POST', headers: r.headers, body: r.body });

/** x [N, 4] -> Reshape to [2, 2]: onnxruntime fails the run unless N = 1 (an internal error, not bad input). */
function reshapeModel(): Uint8Array {
  const FLOAT = 1;
  const INT64 = 7;
  const graph = {
    name: 'reshape',
    input: [{ name: 'x', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } } } }],
    output: [{ name: 'y', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: 2 }] } } } }],
    initializer: [{ name: 'shape', dataType: INT64, dims: [2], int64Data: [2, 2] }],
    node: [{ opType: 'Reshape', input: ['x', 'shape'], output: ['y'] }],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph })).finish();
}

describe('model worker faults', () => {
  it('a worker killed with SIGKILL mid-request: that request gets 503, the worker is restarted, the next request succeeds', async () => {
    const lines: string[] = [];
    const s = await startTestServer({
      models: [{ bytes: convCostModel(HEAVY), name: 'heavy' }],
      logger: createLogger({ level: 'warn', write: (l) => lines.push((JSON.parse(l) as { msg: string }).msg) }),
    });
    try {
      const pidBefore = workerPid(s);
      const inflight = postBinary(s.url, heavyRequest());
      await untilInflight(s.url, 1, 0); // taken from the queue: the run is with the worker
      process.kill(pidBefore, 'SIGKILL');
      const res = await inflight;
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await errorMessage(res)).toMatch(/inference failed: the onnxruntime worker for 'heavy' was killed \(SIGKILL\)/);
      expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200);
      await untilStatus(`${s.url}/v2/health/ready`, 200);
      const next = await postBinary(s.url, heavyRequest());
      expect(next.status).toBe(200);
      expect(workerPid(s)).not.toBe(pidBefore);
      expect(s.server.models[0]!.workerRestarts).toBe(1);
      expect(lines).toEqual(expect.arrayContaining(['model worker died', 'model worker restarted']));
    } finally {
      await s.close();
    }
  });

  it('the run watchdog kills a run past run-timeout-ms (504), and the worker comes back', async () => {
    const s = await startTestServer({ models: [{ bytes: convCostModel(HEAVY), name: 'heavy' }], runTimeoutMs: 5 });
    try {
      const pidBefore = workerPid(s);
      const res = await postBinary(s.url, heavyRequest());
      expect(res.status).toBe(504);
      expect(await errorMessage(res)).toMatch(/a run of 'heavy' took longer than 5 ms \(run-timeout-ms\); its worker was killed/);
      await untilStatus(`${s.url}/v2/health/ready`, 200);
      expect(workerPid(s)).not.toBe(pidBefore);
    } finally {
      await s.close();
    }
  });

  it('liveness turns red only when the worker cannot be restarted (5 failed attempts)', async () => {
    const s = await startTestServer();
    const saved = process.env['NODE_OPTIONS'];
    try {
      // Every new worker process now dies at startup: the server cannot recover by itself.
      process.env['NODE_OPTIONS'] = '--require /nonexistent/unias-test-preload.js';
      process.kill(workerPid(s), 'SIGKILL');
      await untilStatus(`${s.url}/v2/health/ready`, 503);
      expect((await fetch(`${s.url}/v2/health/live`)).status).toBe(200); // still restarting
      await untilStatus(`${s.url}/v2/health/live`, 503, 30_000);
      const res = await postJson(`${s.url}/v2/models/anomaly/infer`, {
        inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: new Array(3 * H * W).fill(0.5) }],
      });
      expect(res.status).toBe(503);
      expect(await errorMessage(res)).toMatch(/could not be restarted \(5 attempts\)/);
    } finally {
      if (saved === undefined) delete process.env['NODE_OPTIONS'];
      else process.env['NODE_OPTIONS'] = saved;
      await s.close();
    }
  });

  it('500 bodies carry no internal text; the log has it under the request id', async () => {
    const logged: Record<string, unknown>[] = [];
    const s = await startTestServer({
      models: [{ bytes: reshapeModel(), name: 'reshape' }],
      logger: createLogger({ level: 'error', write: (l) => logged.push(JSON.parse(l) as Record<string, unknown>) }),
    });
    try {
      const res = await postJson(
        `${s.url}/v2/models/reshape/infer`,
        { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: new Array(8).fill(1) }] },
        { 'X-Request-Id': 'req-77' },
      );
      expect(res.status).toBe(500);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const message = await errorMessage(res);
      expect(message).toBe('internal error; the server log has the details under request id req-77');
      const entry = logged.find((l) => l['msg'] === 'internal error');
      expect(entry).toMatchObject({ id: 'req-77' });
      expect(String(entry!['error'])).toMatch(/reshape|shape/i); // the detail went to the log only
      const ok = await postJson(`${s.url}/v2/models/reshape/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
      expect(ok.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('close() has a deadline: a request still in progress then gets 503, and close() does not wait for it', async () => {
    const s = await startTestServer({ shutdownTimeoutMs: 200, batchWaitPolicy: 'fixed', maxBatchWaitMs: 5_000 });
    const inflight = postJson(`${s.url}/v2/models/anomaly/infer`, {
      inputs: [{ name: 'image', shape: [1, 3, H, W], datatype: 'FP32', data: new Array(3 * H * W).fill(0.5) }],
    });
    await untilInflight(s.url, 1);
    const t0 = performance.now();
    await s.close();
    expect(performance.now() - t0).toBeLessThan(4_000);
    const res = await inflight;
    expect(res.status).toBe(503);
    expect(await errorMessage(res)).toMatch(/shutting down and this request did not finish within 200 ms \(shutdown-timeout-ms\)/);
  });
});

/** The model worker's process id, from the server's models list. */
function workerPid(s: RunningServer): number {
  const pid = s.server.models[0]!.workerPid;
  expect(pid).toBeTypeOf('number');
  return pid!;
}

describe('createSupervisedSession', () => {
  interface Fake extends WorkerSession {
    crash(error: Error): void;
  }
  const fake = (pid: number): Fake => {
    const listeners: ((e: Error) => void)[] = [];
    let failure: Error | null = null;
    return {
      inputMetadata: [],
      outputMetadata: [],
      run: () => Promise.resolve({}),
      get healthy() {
        return failure === null;
      },
      get failure() {
        return failure;
      },
      pid,
      onCrash: (l) => listeners.push(l),
      release: () => Promise.resolve(),
      crash(error) {
        failure = error;
        for (const l of listeners) l(error);
      },
    };
  };

  it('restarts a crashed worker with doubling delays, and gives up (live = false) after maxFailures', async () => {
    const workers: Fake[] = [];
    let failStarts = false;
    const events: SupervisorEvent[] = [];
    const session = await createSupervisedSession(
      async () => {
        if (failStarts) throw new Error('cannot start');
        const w = fake(100 + workers.length);
        workers.push(w);
        return w;
      },
      { initialDelayMs: 5, maxDelayMs: 20, maxFailures: 3, onEvent: (e) => events.push(e) },
    );
    expect(session.healthy).toBe(true);
    workers[0]!.crash(new WorkerCrashError('boom'));
    expect(session.healthy).toBe(false);
    expect(session.failure?.message).toMatch(/boom; restarting it/);
    await expect(session.run({}, {})).rejects.toThrow(/restarting it/);
    while (!session.healthy) await new Promise((r) => setTimeout(r, 2));
    expect(session.restarts).toBe(1);
    expect(session.pid).toBe(101);
    expect(session.live).toBe(true);

    failStarts = true;
    workers[1]!.crash(new WorkerCrashError('boom again'));
    while (session.live) await new Promise((r) => setTimeout(r, 2));
    expect(session.healthy).toBe(false);
    expect(session.failure?.message).toMatch(/could not be restarted \(3 attempts\): cannot start/);
    const failed = events.filter((e) => e.kind === 'restart-failed');
    expect(failed.map((e) => (e.kind === 'restart-failed' ? e.nextDelayMs : 0))).toEqual([10, 20, null]);
    expect(events.at(-1)?.kind).toBe('gave-up');
    await session.release();
  });
});
