/** Output locations: the directory is created up front, so a path that cannot hold the file fails with a clear message. */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ExportError } from './errors.js';

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOTDIR: 'a part of the path is a file, not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
  };
  return err.code ? `${err.code}${why[err.code] ? `: ${why[err.code]}` : ''}` : err.message;
}

export async function ensureDirectory(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new ExportError(`cannot create the ${what} ${resolve(dir)} (${reason(e)})`);
  }
}

/** Creates the folder of an output file and refuses a path that names an existing directory. */
export async function prepareOutputFile(path: string): Promise<void> {
  if (typeof path !== 'string' || path.trim() === '') throw new ExportError('out: an output path is needed');
  await ensureDirectory(dirname(resolve(path)), `output directory for ${path}`);
  const s = await stat(path).catch(() => null);
  if (s?.isDirectory()) throw new ExportError(`out: ${resolve(path)} is a directory; give a file path`);
}

export { reason as describeFsError };
