/**
 * Micro-batching for one model: requests that arrive close together run as one onnxruntime batch
 * (stacked along the first axis) and each gets its own slice of the outputs back.
 *
 * One run per model at a time. While a run is going, new requests queue and go together in the next
 * run as soon as it ends. When the model is idle, the first queued request waits at most `maxWaitMs`
 * for company; with the `adaptive` policy it waits only while other requests for the same model are
 * still being received or decoded (announced with `expect()`), so a lone request never waits.
 */
import { allocateLike, type NumericArray } from './datatypes.js';

export interface TensorValue {
  readonly data: NumericArray;
  readonly dims: readonly number[];
}

export type TensorMap = Readonly<Record<string, TensorValue>>;

export type FlushReason = 'full' | 'timer' | 'no-other-requests' | 'after-run' | 'unbatchable';

export interface BatchInfo {
  /** Samples in the run (sum of the requests' first dimensions). */
  readonly size: number;
  readonly requests: number;
  readonly reason: FlushReason;
  readonly runSeconds: number;
  readonly ok: boolean;
}

export interface BatcherOptions {
  /** Largest batch (in samples) a run combines; a single larger request still runs alone. */
  readonly maxBatchSize: number;
  /** Longest the first request of a batch waits for others while the model is idle. */
  readonly maxWaitMs: number;
  /** `adaptive` (default): wait only while other requests for this model are on their way. */
  readonly waitPolicy?: 'adaptive' | 'fixed';
  /** False when the model's first axis is not a batch axis: every request runs alone. */
  readonly batchable: boolean;
  /** Runs one (possibly stacked) batch. */
  readonly run: (inputs: TensorMap) => Promise<TensorMap>;
  readonly onBatch?: (info: BatchInfo) => void;
}

/** A request on its way (being received or decoded). Released by `submit` or `cancel`. */
export interface Ticket {
  cancel(): void;
}

export interface SubmitOptions {
  readonly ticket?: Ticket;
  readonly signal?: AbortSignal;
}

export interface Batcher {
  expect(): Ticket;
  submit(inputs: TensorMap, options?: SubmitOptions): Promise<TensorMap>;
  /** Requests waiting in the queue (not yet running). */
  readonly queuedRequests: number;
  /** Requests announced with `expect()` and not yet submitted. */
  readonly expectedRequests: number;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
}

interface Item {
  readonly inputs: TensorMap;
  readonly samples: number;
  readonly key: string;
  readonly resolve: (outputs: TensorMap) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  detach: () => void;
}

function samplesOf(inputs: TensorMap): number {
  const first = Object.values(inputs)[0];
  if (first === undefined) throw new Error('a request needs at least one input');
  // A scalar input has no batch axis: such a model is not batchable, and its request counts as one.
  return first.dims[0] ?? 1;
}

/** Requests can share a run only when all their dimensions except the first agree. */
function keyOf(inputs: TensorMap): string {
  return Object.entries(inputs)
    .map(([name, t]) => `${name}:${t.dims.slice(1).join('x')}`)
    .sort()
    .join('|');
}

function stack(items: readonly Item[], total: number): TensorMap {
  const first = items[0]!;
  if (items.length === 1) return first.inputs;
  const out: Record<string, TensorValue> = {};
  for (const [name, t0] of Object.entries(first.inputs)) {
    const per = t0.data.length / Math.max(1, t0.dims[0]!);
    const data = allocateLike(t0.data, per * total);
    let offset = 0;
    for (const item of items) {
      const t = item.inputs[name]!;
      setInto(data, t.data, offset);
      offset += t.data.length;
    }
    out[name] = { data, dims: [total, ...t0.dims.slice(1)] };
  }
  return out;
}

function setInto(target: NumericArray, source: NumericArray, offset: number): void {
  if (target instanceof BigInt64Array || target instanceof BigUint64Array) {
    if (!(source instanceof BigInt64Array || source instanceof BigUint64Array)) throw new Error('mixed element types in one batch');
    target.set(source, offset);
  } else {
    if (source instanceof BigInt64Array || source instanceof BigUint64Array) throw new Error('mixed element types in one batch');
    target.set(source, offset);
  }
}

function split(outputs: TensorMap, items: readonly Item[], total: number): TensorMap[] {
  if (items.length === 1) return [outputs];
  const parts: Record<string, TensorValue>[] = items.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) {
      throw new Error(`output '${name}' has first dimension ${t.dims[0]} for a batch of ${total}; cannot split it`);
    }
    const per = t.data.length / Math.max(1, total);
    let offset = 0;
    items.forEach((item, i) => {
      const len = per * item.samples;
      parts[i]![name] = { data: t.data.subarray(offset, offset + len), dims: [item.samples, ...t.dims.slice(1)] };
      offset += len;
    });
  }
  return parts;
}

export function createBatcher(options: BatcherOptions): Batcher {
  const maxBatch = Math.max(1, Math.floor(options.maxBatchSize));
  const maxWait = Math.max(0, options.maxWaitMs);
  const policy = options.waitPolicy ?? 'adaptive';
  const queue: Item[] = [];
  let running = false;
  let timer: NodeJS.Timeout | null = null;
  let expected = 0;
  let idleWaiters: (() => void)[] = [];

  const clearTimer = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };

  const notifyIdle = (): void => {
    if (running || queue.length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  function schedule(): void {
    if (running) return;
    if (queue.length === 0) {
      clearTimer();
      notifyIdle();
      return;
    }
    if (!options.batchable || maxBatch === 1) return flush('unbatchable');
    const head = queue[0]!;
    let total = 0;
    for (const item of queue) if (item.key === head.key) total += item.samples;
    if (total >= maxBatch) return flush('full');
    if (maxWait === 0) return flush('no-other-requests');
    if (policy === 'adaptive' && expected === 0) return flush('no-other-requests');
    timer ??= setTimeout(() => {
      timer = null;
      if (!running && queue.length > 0) flush('timer');
    }, maxWait);
  }

  function flush(reason: FlushReason): void {
    clearTimer();
    const head = queue[0];
    if (head === undefined) return;
    const taken: Item[] = [head];
    let total = head.samples;
    if (options.batchable && maxBatch > 1) {
      for (let i = 1; i < queue.length; i++) {
        const item = queue[i]!;
        if (item.key !== head.key) continue;
        if (total + item.samples > maxBatch) break;
        taken.push(item);
        total += item.samples;
      }
    }
    const takenSet = new Set(taken);
    for (let i = queue.length - 1; i >= 0; i--) if (takenSet.has(queue[i]!)) queue.splice(i, 1);
    running = true;
    const started = performance.now();
    let ok = false;
    void (async () => {
      try {
        const outputs = await options.run(stack(taken, total));
        const parts = split(outputs, taken, total);
        taken.forEach((item, i) => settle(item, () => item.resolve(parts[i]!)));
        ok = true;
      } catch (error) {
        for (const item of taken) settle(item, () => item.reject(error));
      } finally {
        running = false;
        options.onBatch?.({
          size: total,
          requests: taken.length,
          reason,
          runSeconds: (performance.now() - started) / 1000,
          ok,
        });
        if (queue.length > 0) flush('after-run');
        else schedule();
      }
    })();
  }

  function settle(item: Item, action: () => void): void {
    if (item.settled) return;
    item.settled = true;
    item.detach();
    action();
  }

  return {
    expect(): Ticket {
      expected++;
      let released = false;
      return {
        cancel(): void {
          if (released) return;
          released = true;
          expected--;
          // The batch waiting for this request need not wait any longer.
          if (expected === 0 && policy === 'adaptive' && timer !== null && !running) flush('no-other-requests');
        },
      };
    },

    submit(inputs: TensorMap, submitOptions: SubmitOptions = {}): Promise<TensorMap> {
      const { signal, ticket } = submitOptions;
      return new Promise<TensorMap>((resolve, reject) => {
        if (signal?.aborted) {
          ticket?.cancel();
          reject(signal.reason);
          return;
        }
        let samples: number;
        try {
          samples = samplesOf(inputs);
        } catch (error) {
          ticket?.cancel();
          reject(error);
          return;
        }
        const item: Item = {
          inputs,
          samples,
          key: keyOf(inputs),
          resolve,
          reject,
          settled: false,
          detach: () => {},
        };
        if (signal) {
          const onAbort = (): void => {
            const index = queue.indexOf(item);
            if (index >= 0) queue.splice(index, 1);
            settle(item, () => reject(signal.reason));
            if (index >= 0) schedule();
          };
          signal.addEventListener('abort', onAbort, { once: true });
          item.detach = () => signal.removeEventListener('abort', onAbort);
        }
        queue.push(item);
        // Queue first, then withdraw the announcement: the withdrawal must not flush without it.
        ticket?.cancel();
        schedule();
      });
    },

    get queuedRequests(): number {
      return queue.length;
    },

    get expectedRequests(): number {
      return expected;
    },

    idle(): Promise<void> {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
