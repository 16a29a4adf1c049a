/**
 * One deadline per request: 408 while the body is still arriving, 504 once it is in; it also fires
 * when the client goes away, so queued work for it is dropped.
 */
import type { ServerResponse } from 'node:http';
import { HttpError } from './errors.js';

export interface Deadline {
  readonly signal: AbortSignal;
  /** From now on a timeout means the work, not the upload, was too slow. */
  bodyReceived(): void;
  /** Milliseconds left before the deadline fires. */
  remainingMs(): number;
  /** Ends the request now with `reason` (the shutdown deadline uses this). */
  abort(reason: Error): void;
  dispose(): void;
}

export function startDeadline(res: ServerResponse, ms: number): Deadline {
  const controller = new AbortController();
  const end = performance.now() + ms;
  let phase: 'body' | 'work' = 'body';
  const timer = setTimeout(() => {
    controller.abort(
      phase === 'body'
        ? new HttpError(408, `the request body did not arrive within ${ms} ms (request-timeout-ms)`)
        : new HttpError(504, `inference did not finish within ${ms} ms (request-timeout-ms)`),
    );
  }, ms);
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new HttpError(499, 'the client closed the connection'));
  };
  res.on('close', onClose);
  return {
    signal: controller.signal,
    bodyReceived: () => {
      phase = 'work';
    },
    remainingMs: () => Math.max(0, end - performance.now()),
    abort: (reason) => controller.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      res.off('close', onClose);
    },
  };
}

/** Waits for `work` but gives up when the deadline fires (the work's result is then dropped). */
export function withDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
