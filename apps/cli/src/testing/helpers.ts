/** Test support: run the CLI in-process with captured output, and a tiny synthetic dataset and model. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { generateSyntheticDataset } from '@unias/datasets';
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

/** Two classes (a texture and an object), 64x64 files, 8 normal training images each, 4 test images each. */
export async function tinyDataset(root: string): Promise<string> {
  await generateSyntheticDataset({
    root,
    size: 64,
    seed: 3,
    classes: ['fabric', 'washer'],
    counts: { train: 8, testGood: 2, testDefect: 1 },
    ifExists: 'reuse',
  });
  return root;
}

/**
 * A model of a few hundred thousand parameters (MobileNetV2 taps with its bundled weights, a narrow
 * head, one encoder layer) at 32x32: a 2x2 query grid, so no neighbour mask.
 */
export const TINY_MODEL = {
  inputSize: 32,
  convDim: 32,
  hidden: 16,
  maskDim: 8,
  dimFeedforward: 16,
  encoderLayers: 1,
  neighbourSize: 0,
};

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
