/**
 * The tfjs runtimes, found at run time: tfjs-node-gpu > tfjs-node > wasm > cpu. The native ones are
 * optional peers (they cannot install where libtensorflow cannot be downloaded), so they are only
 * ever loaded by a dynamic import whose failure becomes a reason, never a crash.
 *
 * tfjs has ONE global engine and one active backend: every session remembers its backend and
 * makes it current before it runs (see `onRuntime`).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels } from './wasm-gradients.js';

export type TfjsRuntimeName = 'tfjs-node-gpu' | 'tfjs-node' | 'tfjs-wasm' | 'tfjs-cpu';

export interface TfjsRuntime {
  /** Backend name in the UniAS registry, e.g. "tfjs-wasm". */
  readonly name: TfjsRuntimeName;
  /** The tfjs backend it runs on: "tensorflow", "wasm" or "cpu". */
  readonly tfBackend: string;
}

export const RUNTIME_PRIORITY: Readonly<Record<TfjsRuntimeName, number>> = {
  'tfjs-node-gpu': 40,
  'tfjs-node': 30,
  'tfjs-wasm': 20,
  'tfjs-cpu': 10,
};

const loaded = new Map<TfjsRuntimeName, Promise<TfjsRuntime>>();

/** Loads (once) and initialises a runtime, or throws saying why it is unavailable. */
export function loadRuntime(name: TfjsRuntimeName): Promise<TfjsRuntime> {
  let p = loaded.get(name);
  if (!p) {
    p = exclusive(loaders[name]);
    loaded.set(name, p);
    // A failure is not cached: the next call tries again.
    p.catch(() => loaded.delete(name));
  }
  return p;
}

/** Makes the runtime's backend the global tfjs backend (a no-op when it already is). */
export async function activateRuntime(runtime: TfjsRuntime): Promise<void> {
  if (tf.getBackend() === runtime.tfBackend) return;
  if (!(await tf.setBackend(runtime.tfBackend))) throw new Error(`tfjs backend "${runtime.tfBackend}" failed to initialise`);
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs tasks that switch or depend on the global tfjs backend one at a time, in call order. */
function exclusive<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task);
  queue = run.catch(() => undefined);
  return run;
}

/**
 * Runs `fn` with the runtime's backend current. tfjs has one global backend, so work that creates
 * tensors is serialised here (as is runtime loading): activate, then `fn` synchronously, so no
 * other session can switch the backend in between. Reading results back (`tensor.data()`) may
 * happen outside: a tensor reads from the backend that holds it. Code that calls tf.setBackend
 * itself bypasses this queue.
 */
export function onRuntime<T>(runtime: TfjsRuntime, fn: () => T): Promise<T> {
  return exclusive(async () => {
    await activateRuntime(runtime);
    if (tf.getBackend() !== runtime.tfBackend) throw new Error(`tfjs backend switched to "${tf.getBackend()}" under a ${runtime.name} session`);
    return fn();
  });
}

async function importOptional(specifier: string): Promise<void> {
  try {
    // A variable specifier keeps bundlers and the type checker from resolving the optional peer.
    const target: string = specifier;
    await import(target);
  } catch (e) {
    const message = (e as Error).message.split('\n')[0] ?? String(e);
    throw new Error(`${specifier} is not installed or does not load (${message})`);
  }
}

async function loadNative(name: 'tfjs-node-gpu' | 'tfjs-node', specifier: string): Promise<TfjsRuntime> {
  await importOptional(specifier);
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(`${specifier} loaded but registered no "tensorflow" backend with this @tensorflow/tfjs ${tf.version_core} (a second copy of tfjs-core?)`);
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${specifier}: the "tensorflow" backend failed to initialise`);
  return { name, tfBackend: 'tensorflow' };
}

let wasmPathsSet = false;

/** The folder holding tfjs-backend-wasm's .wasm binaries (its dist folder). */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  let main: string;
  try {
    main = require.resolve('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm is not installed (${(e as Error).message.split('\n')[0]})`);
  }
  const dir = dirname(main);
  if (!existsSync(join(dir, 'tfjs-backend-wasm.wasm'))) throw new Error(`no tfjs-backend-wasm.wasm beside ${main}`);
  return `${dir}/`;
}

async function loadWasm(): Promise<TfjsRuntime> {
  let wasm: { setWasmPaths(prefix: string): void };
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm does not load (${(e as Error).message.split('\n')[0]})`);
  }
  if (!wasmPathsSet) {
    wasm.setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  registerWasmGradientKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise (see the warning above)');
  return { name: 'tfjs-wasm', tfBackend: 'wasm' };
}

async function loadCpu(): Promise<TfjsRuntime> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
  return { name: 'tfjs-cpu', tfBackend: 'cpu' };
}

const loaders: Readonly<Record<TfjsRuntimeName, () => Promise<TfjsRuntime>>> = {
  'tfjs-node-gpu': () => loadNative('tfjs-node-gpu', '@tensorflow/tfjs-node-gpu'),
  'tfjs-node': () => loadNative('tfjs-node', '@tensorflow/tfjs-node'),
  'tfjs-wasm': loadWasm,
  'tfjs-cpu': loadCpu,
};
