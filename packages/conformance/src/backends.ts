/** Every backend this machine can run, created once per process for the conformance suite. */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createTfjsBackend } from '@unias/backend-tfjs';
import type { Backend } from '@unias/graph';

export interface NamedBackend {
  readonly label: string;
  readonly backend: Backend;
}

/** ORT (CPU provider), tfjs wasm and tfjs cpu: the three backends CI can always run. */
export async function conformanceBackends(options: { ortThreads?: number } = {}): Promise<NamedBackend[]> {
  return [
    { label: 'onnx-cpu', backend: await createOnnxBackend({ intraOpNumThreads: options.ortThreads ?? 2 }) },
    { label: 'tfjs-wasm', backend: await createTfjsBackend({ prefer: ['tfjs-wasm'] }) },
    { label: 'tfjs-cpu', backend: await createTfjsBackend({ prefer: ['tfjs-cpu'] }) },
  ];
}
