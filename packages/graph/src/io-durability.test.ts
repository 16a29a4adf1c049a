import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Records the file-system calls writeFileAtomic makes, in order.
const calls: string[] = [];
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      calls.push(`rename ${to}`);
      return fs.rename(from, to);
    },
    open: async (path: string, flags?: string) => {
      const handle = await fs.open(path, flags);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        calls.push(`sync ${path}`);
        return sync();
      };
      return handle;
    },
  };
});

const { writeFileAtomic } = await import('./io.js');

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('writeFileAtomic durability', () => {
  it('fsyncs the file before the rename and the folder after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unias-io-'));
    dirs.push(dir);
    const path = join(dir, 'out.bin');
    await writeFileAtomic(path, 'data');
    const rename = calls.indexOf(`rename ${path}`);
    expect(rename).toBeGreaterThan(0);
    expect(calls[rename - 1]).toMatch(/^sync .*\.out\.bin\.\d+\.[0-9a-f]{12}\.tmp$/);
    expect(calls.slice(rename + 1)).toEqual([`sync ${dir}`]);
  });
});
