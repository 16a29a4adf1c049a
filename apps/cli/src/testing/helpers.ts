/** Test support: run the CLI in-process with captured output, and a tiny synthetic dataset and model. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { TINY_MODEL } from '@unias/engine/testing';
import { main } from '../main.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `main(argv)` with stdout and stderr captured (nothing reaches the terminal). */
export async function runCli(argv: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

export async function tempDir(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `unias-cli-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

// The tiny dataset and model are the engine's (its own tests train them too).
export { tinyDataset, TINY_MODEL } from '@unias/engine/testing';

export async function tinyConfigFile(dir: string, data: string, extra = ''): Promise<string> {
  const path = join(dir, 'tiny.yaml');
  await writeFile(
    path,
    `preset: cpu
model:
${Object.entries(TINY_MODEL)
  .map(([k, v]) => `  ${k}: ${v}`)
  .join('\n')}
data:
  roots: [${data}]
train:
  batchSize: 4
  seed: 1
output:
  logEvery: 1
  evalEvery: 0
${extra}`,
  );
  return path;
}

export interface ServeChild {
  readonly url: string;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code once it exited. */
  stop(): Promise<number | null>;
}

/** `unias serve ARGS --port 0` as a real child process, resolved once it says where it listens. */
export async function startServe(args: readonly string[], timeoutMs = 120_000): Promise<ServeChild> {
  const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@unias/source', 'src/bin.ts', 'serve', ...args, '--port', '0'], { cwd: cliDir });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => (err += d.toString()));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    return child.exitCode;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const url = /serving on (http:\/\/\S+)/.exec(err)?.[1];
    if (url) return { url, stderr: () => err, stop };
    if (child.exitCode !== null) throw new Error(`unias serve exited with ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`unias serve did not start within ${timeoutMs} ms: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
