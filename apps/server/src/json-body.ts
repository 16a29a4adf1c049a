/**
 * Parsing JSON request bodies without stalling the event loop and without unbounded memory.
 *
 * - The nesting depth is checked by a byte scan before parsing (a deep `[[[[...` body would
 *   otherwise cost recursion and memory in the parser and in every walk over the result).
 * - Bodies above `offThreadBytes` are parsed in a worker thread: `JSON.parse` of 30 MB blocks its
 *   thread for a third of a second or more, which on the main thread would hold up health probes and
 *   every other request. The worker packs arrays of numbers into Float64Arrays, which come back by
 *   transfer (a plain array of millions of numbers would cost as much to copy back as to parse).
 * - The worker's heap is capped; a body that needs more fails with 413 and the worker is replaced.
 */
import { Worker } from 'node:worker_threads';
import { HttpError, badRequest } from './errors.js';

/** True when arrays/objects in `bytes` nest deeper than `maxDepth` (strings are skipped). */
export function jsonNestingExceeds(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

// The worker gets the scanner's own source, so both threads apply exactly the same rule.
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const jsonNestingExceeds = ${jsonNestingExceeds.toString()};
const PACK_MIN = 8;
function pack(value, transfer) {
  if (Array.isArray(value)) {
    let numeric = value.length >= PACK_MIN;
    for (let i = 0; i < value.length && numeric; i++) if (typeof value[i] !== 'number') numeric = false;
    if (numeric) {
      const out = Float64Array.from(value);
      transfer.push(out.buffer);
      return out;
    }
    for (let i = 0; i < value.length; i++) value[i] = pack(value[i], transfer);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) value[key] = pack(value[key], transfer);
  }
  return value;
}
parentPort.on('message', (msg) => {
  const bytes = new Uint8Array(msg.buffer, msg.offset, msg.length);
  if (jsonNestingExceeds(bytes, msg.maxDepth)) {
    parentPort.postMessage({ id: msg.id, error: 'depth' });
    return;
  }
  let value;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    parentPort.postMessage({ id: msg.id, error: 'syntax', message: String(e && e.message) });
    return;
  }
  const transfer = [];
  value = pack(value, transfer);
  parentPort.postMessage({ id: msg.id, value }, transfer);
});
`;

export interface JsonParserOptions {
  /** Deepest nesting accepted. */
  readonly maxDepth: number;
  /** Bodies of at least this many bytes are parsed in the worker thread. Default 1 MiB. */
  readonly offThreadBytes?: number;
  /** Heap cap of the worker (MB). */
  readonly workerHeapMb: number;
}

export interface JsonParser {
  /**
   * Parses `bytes` (taken over: do not use them afterwards). Arrays of 8 or more numbers may come
   * back as Float64Arrays when parsed off-thread. `what` names the body in errors.
   */
  parse(bytes: Buffer, what: string): Promise<unknown>;
  close(): Promise<void>;
}

type FromWorker = { id: number; value?: unknown; error?: 'depth' | 'syntax'; message?: string };

interface Job {
  readonly id: number;
  readonly bytes: Buffer;
  readonly what: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

export function createJsonParser(options: JsonParserOptions): JsonParser {
  const offThreadBytes = options.offThreadBytes ?? 1024 * 1024;
  const depthError = (what: string): HttpError => badRequest(`${what} nests arrays or objects deeper than ${options.maxDepth} levels`);
  let worker: Worker | null = null;
  let running: Job | null = null;
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;

  const spawnWorker = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'json parser', resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb } });
    w.unref();
    w.on('message', (msg: FromWorker) => {
      const job = running;
      if (job === null || job.id !== msg.id) return;
      running = null;
      if (msg.error === 'depth') job.reject(depthError(job.what));
      else if (msg.error === 'syntax') job.reject(badRequest(`malformed JSON in ${job.what}: ${msg.message ?? ''}`));
      else job.resolve(msg.value);
      pump();
    });
    const onDeath = (error: Error | null): void => {
      if (worker !== w) return;
      worker = null;
      const job = running;
      running = null;
      if (job !== null) {
        const oom = error !== null && (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
        job.reject(
          oom
            ? new HttpError(
                413,
                `parsing ${job.what} needs more than the JSON parser's ${options.workerHeapMb} MB; send the tensors as binary data (Inference-Header-Content-Length)`,
              )
            : new Error(`the JSON parser thread stopped: ${error?.message ?? 'exited'}`),
        );
      }
      pump();
    };
    w.on('error', onDeath);
    w.on('exit', () => onDeath(null));
    return w;
  };

  const pump = (): void => {
    if (running !== null || closed) return;
    const job = queue.shift();
    if (job === undefined) return;
    running = job;
    worker ??= spawnWorker();
    // Transfer only when the bytes own their buffer; a view into a shared pool buffer is copied.
    const own = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength && job.bytes.buffer instanceof ArrayBuffer;
    const data = own ? job.bytes : Buffer.from(job.bytes);
    worker.postMessage({ id: job.id, buffer: data.buffer, offset: data.byteOffset, length: data.byteLength, maxDepth: options.maxDepth }, [
      data.buffer as ArrayBuffer,
    ]);
  };

  return {
    parse(bytes, what) {
      if (bytes.length < offThreadBytes) {
        if (jsonNestingExceeds(bytes, options.maxDepth)) return Promise.reject(depthError(what));
        try {
          return Promise.resolve(JSON.parse(bytes.toString('utf8')) as unknown);
        } catch (e) {
          return Promise.reject(badRequest(`malformed JSON in ${what}: ${(e as Error).message}`));
        }
      }
      if (closed) return Promise.reject(new Error('the JSON parser is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, bytes, what, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('the JSON parser is closed'));
      running?.reject(new Error('the JSON parser is closed'));
      running = null;
      const w = worker;
      worker = null;
      if (w !== null) await w.terminate();
    },
  };
}
