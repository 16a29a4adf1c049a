/**
 * Reading request bodies under a size limit and a deadline, and the small parsers the routes need
 * (content types, multipart/form-data).
 */
import type { IncomingMessage } from 'node:http';
import { HttpError, badRequest } from './errors.js';

export interface ReadBodyOptions {
  readonly maxBytes: number;
  /** Aborts the read (its reason is thrown). */
  readonly signal?: AbortSignal;
}

/** Reads the whole body; 413 past `maxBytes` (checked against Content-Length first). */
export function readBody(req: IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > options.maxBytes) {
    return Promise.reject(
      new HttpError(413, `the body is ${declared} bytes; the limit is ${options.maxBytes} bytes (max-body-bytes)`),
    );
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
        finish(new HttpError(413, `the body is over the limit of ${options.maxBytes} bytes (max-body-bytes)`));
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

export interface MultipartPart {
  readonly name: string;
  readonly filename: string | null;
  readonly contentType: string;
  readonly data: Buffer;
}

/** Parses a buffered multipart/form-data body (RFC 7578). */
export function parseMultipart(body: Buffer, boundary: string | undefined): MultipartPart[] {
  if (!boundary) throw badRequest('multipart/form-data without a boundary parameter');
  if (boundary.length > 200) throw badRequest('the multipart boundary is longer than 200 characters');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw badRequest('malformed multipart body: the boundary never occurs');
  for (;;) {
    pos += delimiter.length;
    // "--" right after a delimiter closes the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    else throw badRequest('malformed multipart body: no line break after a boundary');
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw badRequest('malformed multipart body: a part has no end of headers');
    const headers = body.subarray(pos, headerEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headerEnd + 4);
    if (next < 0) throw badRequest('malformed multipart body: the last part is not closed by the boundary');
    let name: string | null = null;
    let filename: string | null = null;
    let contentType = 'text/plain';
    for (const line of headers) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === 'content-disposition') {
        const ct = parseContentType(value);
        name = ct.params['name'] ?? null;
        filename = ct.params['filename'] ?? null;
      } else if (key === 'content-type') contentType = value.toLowerCase();
    }
    if (name !== null) parts.push({ name, filename, contentType, data: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}
