/**
 * One verified download into the cache: streamed to `<dest>.part` while hashing, resumed with an
 * HTTP Range request when a `.part` is left from an interrupted run, checked against the SHA-256
 * (prefix) and only then renamed to `dest`. A wrong hash deletes the `.part`; an interruption or a
 * short body keeps it for the next run and says so. `dest` never holds a partial or unverified file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EngineInputError } from './errors.js';

export interface DownloadOptions {
  readonly url: string;
  readonly dest: string;
  /** Leading hex digits of the file's SHA-256 (all 64 for a full hash). */
  readonly sha256Prefix: string;
  readonly onProgress?: (received: number, total: number | undefined) => void;
}

export interface DownloadResult {
  readonly bytes: number;
  readonly sha256: string;
  /** Bytes taken from an earlier `.part` (0 for a fresh download). */
  readonly resumedFrom: number;
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/** `bytes START-END/TOTAL` -> [START, TOTAL]; TOTAL undefined when `*`. */
function contentRange(header: string | null): [number, number | undefined] | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header ?? '');
  return m ? [Number(m[1]), m[2] === '*' ? undefined : Number(m[2])] : undefined;
}

export async function downloadVerified(o: DownloadOptions): Promise<DownloadResult> {
  await mkdir(dirname(o.dest), { recursive: true });
  const part = `${o.dest}.part`;
  let have = (await stat(part).catch(() => null))?.size ?? 0;
  let response: Response;
  try {
    response = await fetch(o.url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, redirect: 'follow' });
  } catch (e) {
    throw new EngineInputError(`cannot download ${o.url}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`);
  }
  let total: number | undefined;
  let complete = false;
  if (response.status === 206) {
    const range = contentRange(response.headers.get('content-range'));
    if (!range || range[0] !== have) {
      await response.body?.cancel();
      throw new EngineInputError(`${o.url}: the server resumed at a different offset than the ${have} bytes of ${part}; delete it and fetch again`);
    }
    total = range[1];
  } else if (response.status === 416 && have > 0) {
    // Nothing after what we have: the .part is already the whole file (a run stopped before verifying).
    await response.body?.cancel();
    complete = true;
  } else if (response.ok) {
    have = 0; // the server sent the whole file (no range support): start over
    const length = response.headers.get('content-length');
    total = length !== null ? Number(length) : undefined;
  } else {
    await response.body?.cancel();
    throw new EngineInputError(`cannot download ${o.url}: HTTP ${response.status} ${response.statusText}`);
  }

  const hash = createHash('sha256');
  if (have > 0) await hashFile(part, hash);
  let received = 0;
  if (!complete) {
    const file = await open(part, have > 0 ? 'a' : 'w');
    try {
      if (!response.body) throw new EngineInputError(`${o.url}: the response has no body`);
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await file.write(value);
          hash.update(value);
          received += value.length;
          o.onProgress?.(have + received, total);
        }
      } catch (e) {
        throw interrupted(o, part, have + received, total, (e as Error).message);
      }
      await file.sync();
    } finally {
      await file.close();
    }
    if (total !== undefined && have + received !== total) throw interrupted(o, part, have + received, total, 'the connection closed early');
  }
  const sha256 = hash.digest('hex');
  if (!sha256.startsWith(o.sha256Prefix.toLowerCase())) {
    await rm(part, { force: true });
    throw new EngineInputError(
      `${o.url}: SHA-256 ${sha256} does not start with the expected ${o.sha256Prefix}; refused and deleted (a corrupt or substituted file)`,
    );
  }
  await rename(part, o.dest);
  return { bytes: have + received, sha256, resumedFrom: have };
}

function interrupted(o: DownloadOptions, part: string, got: number, total: number | undefined, why: string): EngineInputError {
  return new EngineInputError(
    `download of ${o.url} stopped after ${got}${total !== undefined ? ` of ${total}` : ''} bytes (${why}); nothing was cached, the partial ${part} is kept so the same command resumes`,
  );
}
