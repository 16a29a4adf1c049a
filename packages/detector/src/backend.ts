/**
 * The runtime a command runs on: onnxruntime (default) or tfjs, on a device (`auto` picks the best
 * that works and says why it skipped the others; see @unias/backend-onnx's chooseOnnxDevice).
 */
import { availableParallelism } from 'node:os';
import type { Backend } from '@unias/graph';
import type { DeviceChoice, DeviceRequest } from '@unias/backend-onnx';
import { DetectorInputError } from './errors.js';

/** The runtimes a graph model (run directory, .safetensors) runs on; an .onnx file always runs on onnxruntime. */
export const BACKENDS = ['onnx', 'tfjs'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface OpenBackendOptions {
  readonly threads?: number | null;
  /** Default 'auto'. */
  readonly device?: DeviceRequest;
  /** Where the device choice and, off the CPU, onnxruntime's placement of the nodes are reported. */
  readonly log?: (line: string) => void;
}

/** tfjs runtimes for each device: its native GPU build for cuda; it has no WebGPU in Node. */
const TFJS_RUNTIMES: Readonly<Record<Exclude<DeviceRequest, 'webgpu'>, readonly string[] | undefined>> = {
  auto: undefined,
  cuda: ['tfjs-node-gpu'],
  cpu: ['tfjs-node', 'tfjs-wasm', 'tfjs-cpu'],
};

/** The onnxruntime device for a request, logged unless asked for by name as cpu; a device that cannot run is a DetectorInputError. */
export async function chooseDevice(device: DeviceRequest, log: (line: string) => void = () => undefined): Promise<DeviceChoice> {
  const { chooseOnnxDevice, formatDeviceChoice } = await import('@unias/backend-onnx');
  try {
    const choice = await chooseOnnxDevice(device);
    if (device !== 'cpu') log(formatDeviceChoice(choice));
    return choice;
  } catch (e) {
    throw new DetectorInputError((e as Error).message.split('\n')[0]!);
  }
}

export async function openBackend(name: BackendName, options: OpenBackendOptions = {}): Promise<Backend> {
  const device = options.device ?? 'auto';
  const log = options.log ?? (() => undefined);
  try {
    if (name === 'onnx') {
      const { createOnnxBackend, formatPlacement } = await import('@unias/backend-onnx');
      const choice = await chooseDevice(device, log);
      const logged = new Set<string>();
      return await createOnnxBackend({
        name: `onnx-${choice.device}`,
        executionProviders: choice.executionProviders,
        intraOpNumThreads: options.threads ?? availableParallelism(),
        // Off the CPU, say what onnxruntime left on the CPU and what crosses to the device per run,
        // once for each kind of session (by its outputs): training logs its feature extractor, its
        // step (the bytes per step) and its evaluation pipeline once each, however often they are made.
        ...(choice.device !== 'cpu'
          ? {
              onPlacement: (report, session) => {
                const key = session.outputs.join('\n');
                if (logged.has(key)) return;
                logged.add(key);
                log(`placement (${session.outputs.slice(0, 3).join(', ')}${session.outputs.length > 3 ? ', ...' : ''}): ${formatPlacement(report)}`);
              },
            }
          : {}),
      });
    }
    if (device === 'webgpu') throw new DetectorInputError('device webgpu runs on --backend onnx (tfjs has no WebGPU backend in Node)');
    const { createTfjsBackend } = await import('@unias/backend-tfjs');
    const prefer = TFJS_RUNTIMES[device];
    const backend = await createTfjsBackend(prefer ? { prefer } : {});
    if (device !== 'cpu' && backend.skipped.length > 0)
      log(`tfjs runtime ${backend.name}; skipped ${backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
    return backend;
  } catch (e) {
    if (e instanceof DetectorInputError) throw e;
    throw new DetectorInputError(`backend ${name} is not available: ${(e as Error).message.split('\n')[0]}`);
  }
}
