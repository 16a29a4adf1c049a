/**
 * An onnxruntime session in its own worker thread.
 *
 * onnxruntime-node's `session.run` returns a promise but runs the model synchronously on the calling
 * thread (microsoft/onnxruntime#19611): on the main thread every inference would freeze the server
 * (no health probes, no reading or answering other requests) for the whole run. So each model lives
 * in a worker; tensors move between threads by transfer, not copy.
 *
 * The worker's code is plain JavaScript started with `eval`, so it runs the same from TypeScript
 * sources (tests, tsx) and from the built package.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import type { TensorMap, TensorValue } from './batcher.js';
import type { NumericArray } from './datatypes.js';

const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session = null;
const plain = (m) => m.isTensor
  ? { name: m.name, isTensor: true, type: m.type, shape: Array.from(m.shape) }
  : { name: m.name, isTensor: false };
const messageOf = (e) => (e && e.message) ? String(e.message) : String(e);
const loading = ort.InferenceSession.create(new Uint8Array(workerData.model), workerData.options).then(
  (s) => {
    session = s;
    parentPort.postMessage({ kind: 'ready', inputs: s.inputMetadata.map(plain), outputs: s.outputMetadata.map(plain) });
  },
  (e) => parentPort.postMessage({ kind: 'load-error', message: messageOf(e) }),
);
parentPort.on('message', async (msg) => {
  await loading;
  if (msg.kind === 'run') {
    try {
      const feeds = {};
      for (const f of msg.feeds) feeds[f.name] = new ort.Tensor(f.type, f.data, f.dims);
      const results = await session.run(feeds);
      const outputs = [];
      const transfer = [];
      for (const name of Object.keys(results)) {
        const t = results[name];
        if (!ArrayBuffer.isView(t.data)) throw new Error('output ' + name + ' is not a numeric tensor');
        const data = t.data.slice();
        outputs.push({ name, dims: Array.from(t.dims), data });
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ kind: 'result', id: msg.id, outputs }, transfer);
    } catch (e) {
      parentPort.postMessage({ kind: 'run-error', id: msg.id, message: messageOf(e) });
    }
  } else if (msg.kind === 'release') {
    try {
      if (session) await session.release();
    } finally {
      parentPort.postMessage({ kind: 'released' });
      parentPort.close();
    }
  }
});
`;

export type ValueMetadata = ort.InferenceSession.ValueMetadata;

export interface WorkerSession {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** Runs one batch. The input arrays are transferred to the worker: do not use them afterwards. */
  run(inputs: TensorMap, types: Readonly<Record<string, ort.Tensor.Type>>): Promise<TensorMap>;
  /** False once the worker has died (the error says why); runs then fail at once. */
  readonly healthy: boolean;
  readonly failure: Error | null;
  release(): Promise<void>;
}

type FromWorker =
  | { kind: 'ready'; inputs: ValueMetadata[]; outputs: ValueMetadata[] }
  | { kind: 'load-error'; message: string }
  | { kind: 'result'; id: number; outputs: { name: string; dims: number[]; data: NumericArray }[] }
  | { kind: 'run-error'; id: number; message: string }
  | { kind: 'released' };

const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');

/** An array that owns its whole buffer (transferable without taking anything else along). */
function owned(data: NumericArray): NumericArray {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer ? data : data.slice();
}

export function createWorkerSession(model: Uint8Array, options: ort.InferenceSession.SessionOptions, label: string): Promise<WorkerSession> {
  const bytes = new Uint8Array(model); // a copy the worker can take
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    name: `onnxruntime ${label}`,
    workerData: { ortPath, model: bytes.buffer, options },
    transferList: [bytes.buffer],
  });
  const pending = new Map<number, { resolve: (v: TensorMap) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | null = null;
  let releasing: Promise<void> | null = null;
  let onReleased: (() => void) | null = null;

  const fail = (error: Error): void => {
    if (failure === null) failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  return new Promise<WorkerSession>((resolveLoad, rejectLoad) => {
    let loaded = false;
    worker.on('error', (e) => {
      const error = new Error(`the onnxruntime worker for ${label} crashed: ${e.message}`);
      fail(error);
      if (!loaded) rejectLoad(error);
    });
    worker.on('exit', (code) => {
      const error = failure ?? new Error(`the onnxruntime worker for ${label} exited (code ${code})`);
      fail(error);
      if (!loaded) rejectLoad(error);
      onReleased?.();
    });
    worker.on('message', (msg: FromWorker) => {
      switch (msg.kind) {
        case 'ready': {
          loaded = true;
          resolveLoad(session(msg.inputs, msg.outputs));
          break;
        }
        case 'load-error':
          loaded = true;
          rejectLoad(new Error(msg.message));
          void worker.terminate();
          break;
        case 'result': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          const out: Record<string, TensorValue> = {};
          for (const o of msg.outputs) out[o.name] = { data: o.data, dims: o.dims };
          p?.resolve(out);
          break;
        }
        case 'run-error': {
          const p = pending.get(msg.id);
          pending.delete(msg.id);
          p?.reject(new Error(msg.message));
          break;
        }
        case 'released':
          onReleased?.();
          break;
      }
    });

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
        run(inputs, types) {
          if (failure !== null) return Promise.reject(failure);
          if (releasing !== null) return Promise.reject(new Error(`model ${label} has been released`));
          const id = nextId++;
          const feeds = Object.entries(inputs).map(([name, t]) => {
            const type = types[name];
            if (type === undefined) throw new Error(`no type known for input '${name}'`);
            return { name, type, dims: [...t.dims], data: owned(t.data) };
          });
          return new Promise<TensorMap>((resolve, reject) => {
            pending.set(id, { resolve, reject });
            worker.postMessage({ kind: 'run', id, feeds }, feeds.map((f) => f.data.buffer as ArrayBuffer));
          });
        },
        release() {
          releasing ??= new Promise<void>((resolve) => {
            onReleased = () => {
              onReleased = null;
              failure ??= new Error(`model ${label} has been released`);
              resolve();
            };
            if (failure !== null) {
              void worker.terminate().then(() => resolve());
              return;
            }
            worker.postMessage({ kind: 'release' });
          });
          return releasing;
        },
      };
    }
  });
}
