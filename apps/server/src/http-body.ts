/**
 * Reading request bodies under a size limit and a deadline, and the small parsers the routes need
 * (content types).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export interface ReadBodyOptions {
  readonly maxBytes: number;
  /** The option that sets `maxBytes`, named in the 413 message. Default max-body-bytes. */
  readonly limitName?: string;
  /** Aborts the read (its reason is thrown). */
  readonly signal?: AbortSignal;
}

/** Reads the whole body; 413 past `maxBytes` (checked against Content-Length first). */
export function readBody(req: IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  const declared = req.headers['content-length'];
  const limitName = options.limitName ?? 'max-body-bytes';
  if (declared !== undefined && Number(declared) > options.maxBytes) {
    return Promise.reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${options.maxBytes} bytes (${limitName})`));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: unknown, body?: Buffer): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else resolve(body!);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > options.maxBytes) {
        chunks.length = 0;
        finish(new HttpError(413, `the body is over the limit of ${options.maxBytes} bytes (${limitName})`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined, Buffer.concat(chunks, size));
    const onError = (e: Error): void => finish(new HttpError(400, `the request body could not be read: ${e.message}`));
    const onClose = (): void => {
      if (!req.complete) finish(new HttpError(400, 'the client closed the connection before the body was complete'));
    };
    const onAbort = (): void => finish(options.signal!.reason);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export interface ContentType {
  /** Lower-case `type/subtype`, or '' when absent. */
  readonly mediaType: string;
  readonly params: Readonly<Record<string, string>>;
}

export function parseContentType(header: string | undefined): ContentType {
  if (header === undefined || header.trim() === '') return { mediaType: '', params: {} };
  const [type, ...rest] = header.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    let value = p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    params[key] = value;
  }
  return { mediaType: (type ?? '').trim().toLowerCase(), params };
}
