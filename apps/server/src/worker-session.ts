/**
 * An onnxruntime session in its own child process.
 *
 * onnxruntime-node's `session.run` returns a promise but runs the model synchronously on the calling
 * thread (microsoft/onnxruntime#19611): on the main thread every inference would freeze the server
 * (no health probes, no reading or answering other requests) for the whole run. A worker thread
 * fixes that, but a thread cannot be stopped while it is inside native code, so a hung run could
 * never be ended and a crash in onnxruntime would take the server with it. A child process can be
 * killed at any moment (the run watchdog does so) and dies alone.
 *
 * The child's code is plain JavaScript run with `node -e`, so it runs the same from TypeScript
 * sources (tests, tsx) and from the built package. Tensors travel over the IPC channel with V8's
 * serializer (typed arrays are copied once, no JSON).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type * as ort from 'onnxruntime-node';
import type { TensorMap, TensorValue } from './batcher.js';
import type { NumericArray } from './datatypes.js';

const CHILD_SOURCE = `
'use strict';
const ort = require(process.argv[1]);
let session = null;
let loading = null;
const plain = (m) => m.isTensor
  ? { name: m.name, isTensor: true, type: m.type, shape: Array.from(m.shape) }
  : { name: m.name, isTensor: false };
const messageOf = (e) => (e && e.message) ? String(e.message) : String(e);
// The server went away: nothing is left to answer to.
process.on('disconnect', () => process.exit(0));
process.on('message', async (msg) => {
  if (msg.kind === 'load') {
    loading = ort.InferenceSession.create(msg.model, msg.options).then(
      (s) => {
        session = s;
        process.send({ kind: 'ready', inputs: s.inputMetadata.map(plain), outputs: s.outputMetadata.map(plain) });
      },
      (e) => process.send({ kind: 'load-error', message: messageOf(e) }),
    );
    return;
  }
  await loading;
  if (msg.kind === 'run') {
    try {
      const feeds = {};
      for (const f of msg.feeds) feeds[f.name] = new ort.Tensor(f.type, f.data, f.dims);
      const results = await session.run(feeds);
      const outputs = [];
      for (const name of Object.keys(results)) {
        const t = results[name];
        if (!ArrayBuffer.isView(t.data)) throw new Error('output ' + name + ' is not a numeric tensor');
        outputs.push({ name, dims: Array.from(t.dims), data: t.data });
      }
      process.send({ kind: 'result', id: msg.id, outputs });
    } catch (e) {
      process.send({ kind: 'run-error', id: msg.id, message: messageOf(e) });
    }
  } else if (msg.kind === 'release') {
    try {
      if (session) await session.release();
    } finally {
      process.send({ kind: 'released' }, () => process.exit(0));
    }
  }
});
`;

export type ValueMetadata = ort.InferenceSession.ValueMetadata;

/** The worker process died or was killed (a run in flight gets this error; the session is then unusable). */
export class WorkerCrashError extends Error {
  override readonly name: string = 'WorkerCrashError';
}

/** A run took longer than the watchdog allows; the worker was killed. */
export class RunTimeoutError extends WorkerCrashError {
  override readonly name = 'RunTimeoutError';
}

export interface WorkerSessionOptions {
  /** A run still going after this many ms gets the worker killed (SIGKILL). Default: no watchdog. */
  readonly runTimeoutMs?: number;
}

export interface WorkerSession {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** Runs one batch. The input arrays belong to the session from now on: do not use them afterwards. */
  run(inputs: TensorMap, types: Readonly<Record<string, ort.Tensor.Type>>): Promise<TensorMap>;
  /** False once the worker has died (the error says why); runs then fail at once. */
  readonly healthy: boolean;
  readonly failure: Error | null;
  /** The worker's process id (tests kill it to check recovery). */
  readonly pid: number | undefined;
  /** Called once when the worker dies for any reason but `release()`. */
  onCrash(listener: (error: Error) => void): void;
  release(): Promise<void>;
}

type FromWorker =
  | { kind: 'ready'; inputs: ValueMetadata[]; outputs: ValueMetadata[] }
  | { kind: 'load-error'; message: string }
  | { kind: 'result'; id: number; outputs: { name: string; dims: number[]; data: NumericArray }[] }
  | { kind: 'run-error'; id: number; message: string }
  | { kind: 'released' };

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');

function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `was killed (${signal})` : `exited (code ${code})`;
}

export function createWorkerSession(
  model: Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  label: string,
  settings: WorkerSessionOptions = {},
): Promise<WorkerSession> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD_SOURCE, ortPath], {
    // stdout is the server's JSON-lines log: keep the child off it; onnxruntime's warnings go to stderr.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const pending = new Map<number, { resolve: (v: TensorMap) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined }>();
  let nextId = 1;
  let failure: Error | null = null;
  let releasing: Promise<void> | null = null;
  let onReleased: (() => void) | null = null;
  const crashListeners: ((error: Error) => void)[] = [];

  const fail = (error: Error): void => {
    if (failure === null) failure = error;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    pending.clear();
  };

  const kill = (error: Error): void => {
    fail(error);
    child.kill('SIGKILL');
  };

  return new Promise<WorkerSession>((resolveLoad, rejectLoad) => {
    let loaded = false;
    child.on('error', (e) => {
      const error = new WorkerCrashError(`the onnxruntime worker for ${label} failed: ${e.message}`);
      fail(error);
      if (!loaded) rejectLoad(error);
    });
    child.on('exit', (code, signal) => {
      const released = releasing !== null;
      const error = failure ?? new WorkerCrashError(`the onnxruntime worker for ${label} ${exitDescription(code, signal)}`);
      fail(error);
      if (!loaded) {
        loaded = true;
        rejectLoad(error);
      } else if (!released) {
        for (const listener of crashListeners) listener(error);
      }
      onReleased?.();
    });
    child.on('message', (msg: FromWorker) => {
      switch (msg.kind) {
        case 'ready': {
          loaded = true;
          resolveLoad(session(msg.inputs, msg.outputs));
          break;
        }
        case 'load-error':
          loaded = true;
          failure = new Error(msg.message);
          rejectLoad(failure);
          child.kill('SIGKILL');
          break;
        case 'result': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          clearTimeout(p?.timer);
          const out: Record<string, TensorValue> = {};
          for (const o of msg.outputs) out[o.name] = { data: o.data, dims: o.dims };
          p?.resolve(out);
          break;
        }
        case 'run-error': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          clearTimeout(p?.timer);
          p?.reject(new Error(msg.message));
          break;
        }
        case 'released':
          onReleased?.();
          break;
      }
    });
    child.send({ kind: 'load', model, options });

    function session(inputMetadata: ValueMetadata[], outputMetadata: ValueMetadata[]): WorkerSession {
      return {
        inputMetadata,
        outputMetadata,
        get healthy() {
          return failure === null;
        },
        get failure() {
          return failure;
        },
        get pid() {
          return child.pid;
        },
        onCrash(listener) {
          crashListeners.push(listener);
        },
        run(inputs, types) {
          if (failure !== null) return Promise.reject(failure);
          if (releasing !== null) return Promise.reject(new Error(`model ${label} has been released`));
          const id = nextId++;
          const feeds = Object.entries(inputs).map(([name, t]) => {
            const type = types[name];
            if (type === undefined) throw new Error(`no type known for input '${name}'`);
            return { name, type, dims: [...t.dims], data: t.data };
          });
          return new Promise<TensorMap>((resolve, reject) => {
            const limit = settings.runTimeoutMs;
            const timer =
              limit === undefined
                ? undefined
                : setTimeout(() => kill(new RunTimeoutError(`a run of ${label} took longer than ${limit} ms (run-timeout-ms); its worker was killed`)), limit);
            pending.set(id, { resolve, reject, timer });
            child.send({ kind: 'run', id, feeds });
          });
        },
        release() {
          releasing ??= new Promise<void>((resolve) => {
            onReleased = () => {
              onReleased = null;
              failure ??= new Error(`model ${label} has been released`);
              resolve();
            };
            if (failure !== null || child.exitCode !== null || child.signalCode !== null) {
              if (child.exitCode !== null || child.signalCode !== null) onReleased();
              else child.kill('SIGKILL');
              return;
            }
            child.send({ kind: 'release' });
          });
          return releasing;
        },
      };
    }
  });
}
