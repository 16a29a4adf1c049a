/**
 * The `unias-serve` process: starts from the command line, logs JSON lines, and on SIGTERM finishes
 * the request in flight before exiting 0.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from './cli-args.js';
import { postJson, TEST_SIZE } from './testing/harness.js';
import { anomalyTestModel } from './testing/test-models.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'unias-server-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function startBin(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcessWithoutNullStreams; lines: Record<string, unknown>[]; stderr: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@unias/source', 'src/bin.ts', ...args], { cwd: packageDir, env });
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { child, lines, stderr: () => err };
}

async function until<T>(get: () => T | undefined, what: string, child: ChildProcessWithoutNullStreams): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = get();
    if (v !== undefined) return v;
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) while waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('unias-serve', () => {
  it('serves a model file and shuts down gracefully on SIGTERM', async () => {
    const model = join(tmp, 'widget.onnx');
    writeFileSync(model, anomalyTestModel(TEST_SIZE));
    const { child, lines, stderr } = startBin([
      '--model',
      model,
      '--port',
      '0',
      '--threads',
      '1',
      '--batch-wait-policy',
      'fixed',
      '--max-batch-wait-ms',
      '600',
    ]);
    try {
      const ready = await until(() => lines.find((l) => l['msg'] === 'ready'), 'the ready log line', child);
      const url = String(ready['url']);
      const inflight = postJson(`${url}/v2/models/widget/infer`, {
        inputs: [
          {
            name: 'image',
            shape: [1, 3, TEST_SIZE.height, TEST_SIZE.width],
            datatype: 'FP32',
            data: new Array(3 * TEST_SIZE.height * TEST_SIZE.width).fill(1),
          },
        ],
        outputs: [{ name: 'score' }],
      });
      // Once the request waits in the 600 ms batch window, stop the server.
      for (;;) {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        if (/^unias_inflight_requests 1$/m.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGTERM');
      const res = await inflight;
      expect(res.status).toBe(200);
      expect(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data).toEqual([0.5]);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code, stderr()).toBe(0);
      const msgs = lines.map((l) => l['msg']);
      expect(msgs).toEqual(expect.arrayContaining(['listening', 'device', 'model loaded', 'ready', 'signal', 'shutting down', 'request', 'stopped']));
      // --device auto on this machine: the device chosen, and why the others were skipped.
      const device = lines.find((l) => l['msg'] === 'device')!;
      expect(['cpu', 'cuda', 'webgpu']).toContain(device['device']);
      if (device['device'] === 'cpu') expect((device['skipped'] as { device: string }[]).map((s) => s.device)).toEqual(['cuda', 'webgpu']);
      const inferLine = lines.findIndex((l) => l['msg'] === 'request' && l['route'] === '/v2/models/{name}/infer');
      expect(lines[inferLine]).toMatchObject({ status: 200 });
      expect(inferLine).toBeGreaterThan(msgs.indexOf('signal'));
      expect(msgs.at(-1)).toBe('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('--device webgpu without a Vulkan driver exits 1 with one line saying so', async () => {
    const model = join(tmp, 'gadget.onnx');
    writeFileSync(model, anomalyTestModel(TEST_SIZE));
    const { child, stderr } = startBin(['--model', model, '--port', '0', '--device', 'webgpu'], {
      ...process.env,
      VK_ICD_FILENAMES: join(tmp, 'no-such-driver.json'),
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr()).toMatch(/^unias-serve: device webgpu is not available: no Vulkan (loader|driver) [^\n]*\n$/);
  });

  it('exits 2 with the usage on bad arguments', async () => {
    const { child, stderr } = startBin(['--port', 'eighty']);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr()).toMatch(/give at least one --model|--port must be an integer/);
    expect(stderr()).toMatch(/Usage: unias-serve/);
  });
});

describe('parseServeArgs', () => {
  it('reads every option into ServerOptions', () => {
    const c = parseServeArgs([
      '--model',
      'a.onnx',
      '--model',
      'b=dir/c.onnx',
      '--model',
      'x/y=z.onnx',
      '--port',
      '9000',
      '--host',
      '0.0.0.0',
      '--max-batch-size',
      '4',
      '--max-batch-wait-ms',
      '0',
      '--max-concurrent-requests',
      '10',
      '--max-body-bytes',
      '1000',
      '--max-input-pixels',
      '500',
      '--request-timeout-ms',
      '100',
      '--shutdown-timeout-ms',
      '0',
      '--log-level',
      'warn',
      '--threads',
      '2',
      '--spinning',
      '--device',
      'cpu',
    ]);
    expect(c).toEqual({
      help: false,
      options: {
        models: [{ path: 'a.onnx' }, { name: 'b', path: 'dir/c.onnx' }, { path: 'x/y=z.onnx' }],
        port: 9000,
        host: '0.0.0.0',
        logLevel: 'warn',
        device: 'cpu',
        threads: 2,
        spinning: true,
        maxBatchSize: 4,
        maxBatchWaitMs: 0,
        maxConcurrentRequests: 10,
        maxBodyBytes: 1000,
        maxInputPixels: 500,
        requestTimeoutMs: 100,
        shutdownTimeoutMs: 0,
      },
    });
    expect(parseServeArgs(['-h'])).toEqual({ help: true });
  });

  it('names the bad option', () => {
    expect(() => parseServeArgs([])).toThrow(/at least one --model/);
    expect(() => parseServeArgs(['--model', 'a', '--log-level', 'loud'])).toThrow(/--log-level must be one of/);
    expect(() => parseServeArgs(['--model', 'a', '--max-batch-size', '0'])).toThrow(/--max-batch-size must be an integer >= 1/);
    expect(() => parseServeArgs(['--model', 'a', '--bogus'])).toThrow(/bogus/);
    expect(() => parseServeArgs(['--model', 'a', '--device', 'gpu'])).toThrow("--device must be one of auto, cpu, webgpu, cuda, got 'gpu'");
  });
});
