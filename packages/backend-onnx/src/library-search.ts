/** Where the dynamic linker finds shared libraries by bare name (LD_LIBRARY_PATH, then the usual folders). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SYSTEM_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/lib64',
  '/usr/lib',
  '/lib',
  '/usr/local/lib',
  '/usr/local/cuda/lib64',
  '/usr/lib/wsl/lib',
];

export function split(list: string | undefined): string[] {
  return (list ?? '').split(':').filter((p) => p.length > 0);
}

/** LD_LIBRARY_PATH first, then the system folders (under `root`, for tests). */
export function libraryDirs(env: Readonly<Record<string, string | undefined>>, root = '/'): string[] {
  return [...split(env['LD_LIBRARY_PATH']), ...SYSTEM_DIRS.map((d) => (root === '/' ? d : join(root, d)))];
}

/** The first folder holding `name`, as a path, or undefined. */
export function findLibrary(name: string, dirs: readonly string[]): string | undefined {
  const dir = dirs.find((d) => existsSync(join(d, name)));
  return dir === undefined ? undefined : join(dir, name);
}
