/** Helpers the server benches share: percentiles, a free loopback port, `unias-serve` in a child process. */
import { spawn } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = join(packageDir, '..', '..');

/** The p-th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `unias-serve` on a free loopback port; resolves when /v2/health/ready answers 200. */
export async function startServerProcess(modelPath: string, extraArgs: readonly string[] = []): Promise<{ port: number; stop: () => Promise<number | null> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@unias/source',
      'src/bin.ts',
      '--model',
      modelPath,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    // The server's logs go to stderr: stdout carries only the bench's JSON.
    { cwd: packageDir, stdio: ['ignore', 2, 2] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`unias-serve exited with ${child.exitCode} before it was ready`);
    if (performance.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error('unias-serve was not ready within 60 s');
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
