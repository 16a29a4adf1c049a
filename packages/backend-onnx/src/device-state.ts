/**
 * Carried state (a training step's parameters and moments) kept in GPU buffers between runs on
 * onnxruntime's WebGPU provider: the carried outputs are asked for as 'gpu-buffer' tensors and fed
 * straight back as the next run's inputs, so a step uploads its feeds and downloads its losses
 * only. onnxruntime-node 1.30 aborts the process when such a tensor is downloaded with getData(),
 * so the state comes back to the host through a second session that copies it to CPU outputs.
 */
import { GraphBuilder } from '@unias/graph';
import { encodeModel, lowerGraph, type IoSpec } from '@unias/onnx-lowering';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import type { OrtModule } from './ort-tensor.js';

/** Providers whose outputs onnxruntime-node can leave on the device ('gpu-buffer'). */
export function keepsStateOnDevice(executionProviders: readonly string[], requested: boolean | undefined): boolean {
  return executionProviders[0] === 'webgpu' && requested !== false;
}

/** Where each output should land: carried ones on the GPU, the rest in host memory. */
export function outputLocations(outputs: readonly IoSpec[], carried: ReadonlySet<string>): Record<string, 'gpu-buffer' | 'cpu'> {
  return Object.fromEntries(outputs.map((s) => [s.name, carried.has(s.name) ? 'gpu-buffer' : 'cpu']));
}

export function isOnDevice(t: OrtTensor): boolean {
  return t.location !== 'cpu';
}

/** Copies device-resident tensors to the host through one identity session, built on first use. */
export interface StateReadback {
  download(state: ReadonlyMap<string, OrtTensor>): Promise<Map<string, OrtTensor>>;
  release(): Promise<void>;
}

export function createStateReadback(ort: OrtModule, sessionOptions: InferenceSession.SessionOptions, specs: readonly IoSpec[]): StateReadback {
  let session: Promise<{ session: InferenceSession; outputOf: Map<string, string> }> | undefined;
  const open = async () => {
    const b = new GraphBuilder();
    const outputOf = new Map<string, string>();
    specs.forEach((s, i) => {
      // A reshape to its own shape: an exact copy that gives the output a name of its own.
      b.output(`state_${i}`, b.reshape(b.input(s.name, s.shape, s.dtype), [...s.shape]));
      outputOf.set(s.name, `state_${i}`);
    });
    const bytes = encodeModel(lowerGraph(b.build(), {}).model);
    return { session: await ort.InferenceSession.create(bytes, { ...sessionOptions, preferredOutputLocation: 'cpu' }), outputOf };
  };
  return {
    async download(state) {
      session ??= open();
      const { session: s, outputOf } = await session;
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, t] of state) if (isOnDevice(t)) feeds[name] = t;
      const wanted = Object.keys(feeds).map((n) => outputOf.get(n)!);
      const out = new Map<string, OrtTensor>(state);
      if (wanted.length === 0) return out;
      // Every input of the identity graph must be fed: host-resident ones go through too.
      for (const [name, t] of state) feeds[name] ??= t;
      const results = await s.run(feeds, wanted);
      for (const name of Object.keys(feeds)) {
        const r = results[outputOf.get(name)!];
        if (r) out.set(name, r);
      }
      return out;
    },
    async release() {
      const s = session;
      session = undefined;
      if (s) await (await s).session.release();
    },
  };
}
