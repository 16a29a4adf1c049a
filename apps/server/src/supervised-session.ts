/**
 * A model's worker under supervision: when the worker dies (crash, kill, or the run watchdog), a new
 * one is started after a backoff (100 ms, doubling, at most `maxDelayMs`). While it restarts the
 * session is unhealthy (readiness 503, inference 503 + Retry-After). After `maxFailures` failed
 * restarts in a row it gives up: `live` turns false, which the server reports on its liveness probe so
 * that an orchestrator replaces the whole process.
 */
import type { TensorMap } from './batcher.js';
import type * as ort from 'onnxruntime-node';
import { WorkerCrashError, type ValueMetadata, type WorkerSession } from './worker-session.js';

export interface SupervisorOptions {
  /** First restart delay (ms); doubles with each failed restart. Default 100. */
  readonly initialDelayMs?: number;
  /** Longest restart delay (ms). Default 5,000. */
  readonly maxDelayMs?: number;
  /** Failed restarts in a row before giving up. Default 5. */
  readonly maxFailures?: number;
  /** Told about crashes, restarts and giving up (the server logs them). */
  readonly onEvent?: (event: SupervisorEvent) => void;
}

export type SupervisorEvent =
  | { readonly kind: 'crashed'; readonly error: Error }
  | { readonly kind: 'restarted'; readonly restarts: number; readonly pid: number | undefined }
  | { readonly kind: 'restart-failed'; readonly error: Error; readonly attempt: number; readonly nextDelayMs: number | null }
  | { readonly kind: 'gave-up'; readonly error: Error };

export interface SupervisedSession {
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  run(inputs: TensorMap, types: Readonly<Record<string, ort.Tensor.Type>>): Promise<TensorMap>;
  /** A worker is up and serving. */
  readonly healthy: boolean;
  /** Why it is not healthy (restarting, or given up), else null. */
  readonly failure: Error | null;
  /** False once restarting has been given up: the process cannot recover by itself. */
  readonly live: boolean;
  /** Workers started after the first. */
  readonly restarts: number;
  /** The current worker's process id. */
  readonly pid: number | undefined;
  release(): Promise<void>;
}

/** Starts the first worker (its errors reject), then keeps one running until `release()`. */
export async function createSupervisedSession(start: () => Promise<WorkerSession>, options: SupervisorOptions = {}): Promise<SupervisedSession> {
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  const maxFailures = options.maxFailures ?? 5;
  let current: WorkerSession | null = await start();
  const { inputMetadata, outputMetadata } = current;
  let failure: Error | null = null;
  let live = true;
  let released = false;
  let restarts = 0;
  let timer: NodeJS.Timeout | undefined;

  const restart = (attempt: number): void => {
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
    timer = setTimeout(() => {
      start().then(
        (session) => {
          if (released) {
            void session.release();
            return;
          }
          restarts++;
          adopt(session);
          failure = null;
          options.onEvent?.({ kind: 'restarted', restarts, pid: session.pid });
        },
        (e: unknown) => {
          if (released) return;
          const error = e instanceof Error ? e : new Error(String(e));
          const last = attempt + 1 >= maxFailures;
          options.onEvent?.({
            kind: 'restart-failed',
            error,
            attempt: attempt + 1,
            nextDelayMs: last ? null : Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt + 1)),
          });
          if (last) {
            live = false;
            failure = new WorkerCrashError(`the worker could not be restarted (${maxFailures} attempts): ${error.message}`);
            options.onEvent?.({ kind: 'gave-up', error: failure });
            return;
          }
          restart(attempt + 1);
        },
      );
    }, delay);
  };

  const adopt = (session: WorkerSession): void => {
    current = session;
    session.onCrash((error) => {
      if (released || current !== session) return;
      current = null;
      failure = new WorkerCrashError(`${error.message}; restarting it`);
      options.onEvent?.({ kind: 'crashed', error });
      restart(0);
    });
  };
  adopt(current);

  return {
    inputMetadata,
    outputMetadata,
    run(inputs, types) {
      if (current === null || released) return Promise.reject(failure ?? new Error('the session has been released'));
      return current.run(inputs, types);
    },
    get healthy() {
      return current !== null && current.healthy && !released;
    },
    get failure() {
      return released ? new Error('the session has been released') : (failure ?? current?.failure ?? null);
    },
    get live() {
      return live;
    },
    get restarts() {
      return restarts;
    },
    get pid() {
      return current?.pid;
    },
    async release() {
      released = true;
      clearTimeout(timer);
      const session = current;
      current = null;
      await session?.release();
    },
  };
}
