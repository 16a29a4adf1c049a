/** The runtime a command runs on, by name: onnxruntime (default) or tfjs (best of node-gpu, node, wasm, cpu). */
import { availableParallelism } from 'node:os';
import type { Backend } from '@unias/graph';
import { UserError } from '../errors.js';
import type { BackendName } from '../config/train-config.js';

export async function openBackend(name: BackendName, options: { threads?: number | null } = {}): Promise<Backend> {
  try {
    if (name === 'onnx') {
      const { createOnnxBackend } = await import('@unias/backend-onnx');
      return await createOnnxBackend({ intraOpNumThreads: options.threads ?? availableParallelism() });
    }
    const { createTfjsBackend } = await import('@unias/backend-tfjs');
    return await createTfjsBackend();
  } catch (e) {
    throw new UserError(`backend ${name} is not available: ${(e as Error).message.split('\n')[0]}`);
  }
}
