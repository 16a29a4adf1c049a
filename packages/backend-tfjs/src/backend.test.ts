import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BackendRegistry, BackendUnavailableError, GraphBuilder, tensor } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { createTfjsBackend, tfjsBackendCandidates } from './backend.js';
import { wasmBinaryDir } from './runtimes.js';

function resolvable(name: string): boolean {
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}
const nativeInstalled = resolvable('@tensorflow/tfjs-node') || resolvable('@tensorflow/tfjs-node-gpu');

describe('runtime selection', () => {
  it('offers tfjs-node-gpu > tfjs-node > tfjs-wasm > tfjs-cpu', () => {
    const c = tfjsBackendCandidates();
    expect(c.map((x) => x.name)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu']);
    expect(c.map((x) => x.priority)).toEqual([40, 30, 20, 10]);
  });

  it('picks the best runtime that loads and says why the better ones did not', async () => {
    const backend = await createTfjsBackend();
    const order = ['tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'];
    expect(backend.skipped.map((s) => s.name)).toEqual(order.slice(0, order.indexOf(backend.name)));
    for (const s of backend.skipped) expect(s.reason).toMatch(/@tensorflow\/tfjs-node/);
    if (!nativeInstalled) expect(backend.name).toBe('tfjs-wasm');
    expect(tf.getBackend()).toBe(backend.tfBackend);
  });

  it.skipIf(nativeInstalled)('fails with one message listing every runtime tried and why', async () => {
    const error = await createTfjsBackend({ prefer: ['tfjs-node-gpu', 'tfjs-node'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    const message = (error as Error).message;
    expect(message).toMatch(/tried tfjs-node-gpu \(@tensorflow\/tfjs-node-gpu is not installed or does not load/);
    expect(message).toMatch(/tfjs-node \(@tensorflow\/tfjs-node is not installed or does not load/);
  });

  it('joins a shared registry: other candidates fall back onto tfjs, "tfjs" resolves by prefix', async () => {
    const registry = new BackendRegistry();
    registry.register({ name: 'onnx-cuda', priority: 100, load: () => Promise.reject(new Error('no CUDA here')) });
    for (const c of tfjsBackendCandidates()) registry.register(c);
    const best = await registry.resolve();
    expect(best.name).toMatch(/^tfjs-/);
    const cpu = await registry.resolve(['tfjs-cpu']);
    expect(cpu.name).toBe('tfjs-cpu');
    await expect(registry.resolve(['tflite'])).rejects.toThrow(/unknown backend tflite/);
    // The backend found through the registry runs graphs.
    const b = new GraphBuilder();
    b.output('y', b.exp(b.input('x', [2])));
    const s = await cpu.prepare(b.build());
    expect(s.backend).toBe('tfjs-cpu');
    const y = (await s.run({ x: tensor([2], [0, 1]) }))['y']!;
    expect(Array.from(y.data)).toEqual([1, Math.fround(Math.E)]);
    await s.dispose();
  });

  it('finds the wasm binaries beside the package entry and registers the missing gradient kernels', async () => {
    const dir = wasmBinaryDir();
    expect(dir.endsWith('/')).toBe(true);
    for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) expect(existsSync(dir + f)).toBe(true);
    await createTfjsBackend({ prefer: ['tfjs-wasm'] });
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput']) {
      expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
    }
  });
});
