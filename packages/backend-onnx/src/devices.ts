/**
 * `--device auto|cpu|webgpu|cuda` on onnxruntime: which execution providers a session gets, and
 * for `auto`, the best device that works here with the reason each better one was skipped.
 * Nothing is chosen on guesswork: a device is used only after a tiny model ran on it.
 */
import { createGraph } from '@unias/graph';
import { detectCuda } from './cuda.js';
import { describeDriver, detectVulkan, GLVND_INSTALL } from './vulkan.js';
import { encodeModel, lowerGraph } from '@unias/onnx-lowering';
import type { OrtModule } from './ort-tensor.js';

export const DEVICES = ['auto', 'cpu', 'webgpu', 'cuda'] as const;
export type DeviceRequest = (typeof DEVICES)[number];
export type OnnxDevice = Exclude<DeviceRequest, 'auto'>;

/** The execution providers each device's sessions get (onnxruntime places what the first lacks on the CPU). */
export const DEVICE_PROVIDERS: Readonly<Record<OnnxDevice, readonly string[]>> = {
  cuda: ['cuda', 'cpu'],
  webgpu: ['webgpu', 'cpu'],
  cpu: ['cpu'],
};

/** `auto` tries these in order. */
const AUTO_ORDER: readonly OnnxDevice[] = ['cuda', 'webgpu', 'cpu'];

export interface DeviceChoice {
  readonly device: OnnxDevice;
  readonly executionProviders: readonly string[];
  /** Better devices `auto` tried first, and why each was not used. */
  readonly skipped: ReadonlyArray<{ readonly device: OnnxDevice; readonly reason: string }>;
  /** Why this device, in a few words. */
  readonly why: string;
}

export class DeviceUnavailableError extends Error {
  override readonly name = 'DeviceUnavailableError';
  constructor(
    readonly device: OnnxDevice,
    readonly reason: string,
  ) {
    super(`device ${device} is not available: ${reason}`);
  }
}

export function isDeviceRequest(value: string): value is DeviceRequest {
  return (DEVICES as readonly string[]).includes(value);
}

export interface DeviceProbeOptions {
  /** Environment to read (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Prefix of the system paths read (/usr, /etc, /dev), for tests; default "/". */
  readonly root?: string;
  /** onnxruntime-node's binding folder (null: none), for tests; default: found by resolution. */
  readonly bindingDir?: string | null;
  /** `webgpu` only over a hardware GPU's Vulkan driver, as `auto` does (default false: any driver). */
  readonly requireHardwareGpu?: boolean;
}

const probed = new Map<string, Promise<void>>();

/** Runs y = x + x on one provider alone; resolves when it computed 3 from 1.5. Successes are remembered. */
export function probeProvider(ort: OrtModule, provider: string): Promise<void> {
  let p = probed.get(provider);
  if (!p) {
    p = (async () => {
      const b = createGraph();
      const x = b.input('x', [1]);
      b.output('y', b.add(x, x));
      const bytes = encodeModel(lowerGraph(b.build()).model);
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: 3 });
      try {
        const r = await session.run({ x: new ort.Tensor('float32', new Float32Array([1.5]), [1]) });
        const y = r['y'];
        if (!(y instanceof ort.Tensor) || y.data[0] !== 3) throw new Error(`the ${provider} provider computed a wrong probe result`);
      } finally {
        await session.release();
      }
    })();
    probed.set(provider, p);
    p.catch(() => probed.delete(provider));
  }
  return p;
}

/** onnxruntime's own messages carry a source path and an assertion; keep what a person can act on. */
export function shortOrtError(e: unknown): string {
  const line = ((e as Error)?.message ?? String(e)).split('\n')[0]!.trim();
  const tail = / was false\. (.+)$/.exec(line)?.[1] ?? line.replace(/^\/\S+:\d+ \S+.*?\)\s*/, '');
  return tail.length > 200 ? `${tail.slice(0, 197)}...` : tail;
}

function listed(ort: OrtModule, provider: string): { bundled: boolean } | undefined {
  return ort.listSupportedBackends().find((b) => b.name === provider);
}

/** Why CUDA cannot be used here, or undefined when it ran the probe. */
async function cudaProblem(ort: OrtModule, o: DeviceProbeOptions): Promise<string | undefined> {
  const entry = listed(ort, 'cuda');
  if (!entry) return 'this onnxruntime-node build has no CUDA provider';
  const info = detectCuda({
    ...(o.env ? { env: o.env } : {}),
    ...(o.root ? { root: o.root } : {}),
    ...(o.bindingDir !== undefined ? { bindingDir: o.bindingDir } : {}),
  });
  // Checked before asking onnxruntime, which logs a load failure to stderr on every CPU machine.
  if (!entry.bundled && !info.provider) return info.providerProblem ?? 'the CUDA provider library is not installed';
  try {
    await probeProvider(ort, 'cuda');
    return undefined;
  } catch (e) {
    return `the CUDA provider failed to load: ${shortOrtError(e)}${info.missing ? ` (${info.missing})` : ''}`;
  }
}

/**
 * Why WebGPU cannot be used here, or undefined when it ran the probe; `note` says when the adapter
 * is a software driver. With `hardwareOnly` (auto), software drivers are a reason to skip.
 */
async function webgpuProblem(ort: OrtModule, o: DeviceProbeOptions, hardwareOnly: boolean): Promise<{ problem?: string; note: string }> {
  if (!listed(ort, 'webgpu'))
    return { problem: 'this onnxruntime-node build has no WebGPU provider (onnxruntime-node >= 1.22 on linux-x64, win32 and macOS has one)', note: '' };
  const vulkan = detectVulkan({ ...(o.env ? { env: o.env } : {}), ...(o.root ? { root: o.root } : {}) });
  if (process.platform === 'linux') {
    if (!vulkan.loader) return { problem: 'no Vulkan loader (libvulkan.so.1; Debian/Ubuntu: apt-get install libvulkan1)', note: '' };
    const usable = vulkan.drivers.filter((d) => d.kind !== 'broken');
    if (usable.length === 0) {
      const what = vulkan.drivers.length > 0 ? vulkan.drivers.map(describeDriver).join('; ') : `no manifest in ${vulkan.searched}`;
      return { problem: `no Vulkan driver (${what}); install the GPU's Vulkan driver (docs/devices.md)`, note: '' };
    }
    if (hardwareOnly && !vulkan.hardwareGpu) return { problem: `${vulkan.how}: a software driver runs slower than the CPU provider`, note: '' };
  }
  try {
    await probeProvider(ort, 'webgpu');
  } catch (e) {
    const glvnd =
      vulkan.glvndMissing.length > 0 ? `; NVIDIA's Vulkan driver needs glvnd's ${vulkan.glvndMissing.join(', ')}, not found here (${GLVND_INSTALL})` : '';
    return { problem: `the WebGPU provider got no GPU adapter: ${shortOrtError(e)}${glvnd}`, note: '' };
  }
  return { note: vulkan.hardwareGpu ? vulkan.how : `${vulkan.how}; expect it to be slower than the CPU provider` };
}

async function loadOrt(): Promise<OrtModule> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    throw new Error(`onnxruntime-node is not installed or failed to load: ${(e as Error).message}`);
  }
}

function choice(device: OnnxDevice, why: string, skipped: DeviceChoice['skipped'] = []): DeviceChoice {
  return { device, executionProviders: DEVICE_PROVIDERS[device], skipped, why };
}

/**
 * The device for a request. `cpu`, `webgpu` and `cuda` are used if they work, else a
 * `DeviceUnavailableError` says why in one line; `auto` takes the first of cuda, webgpu (hardware
 * GPUs only) and cpu that works, and lists why it skipped the others.
 */
export async function chooseOnnxDevice(request: DeviceRequest, options: DeviceProbeOptions = {}): Promise<DeviceChoice> {
  if (!isDeviceRequest(request)) throw new Error(`unknown device "${String(request)}"; devices: ${DEVICES.join(', ')}`);
  if (request === 'cpu') return choice('cpu', 'asked for');
  const ort = await loadOrt();
  if (request === 'cuda') {
    const problem = await cudaProblem(ort, options);
    if (problem) throw new DeviceUnavailableError('cuda', problem);
    return choice('cuda', 'asked for');
  }
  if (request === 'webgpu') {
    const { problem, note } = await webgpuProblem(ort, options, options.requireHardwareGpu ?? false);
    if (problem) throw new DeviceUnavailableError('webgpu', problem);
    return choice('webgpu', `asked for; ${note}`);
  }
  const skipped: Array<{ device: OnnxDevice; reason: string }> = [];
  for (const device of AUTO_ORDER) {
    if (device === 'cpu') return choice('cpu', skipped.length > 0 ? 'the only device that works here' : 'the best device here', skipped);
    if (device === 'cuda') {
      const problem = await cudaProblem(ort, options);
      if (!problem) return choice('cuda', 'CUDA provider loaded', skipped);
      skipped.push({ device, reason: problem });
    } else {
      const { problem, note } = await webgpuProblem(ort, options, true);
      if (!problem) return choice('webgpu', note, skipped);
      skipped.push({ device, reason: problem });
    }
  }
  throw new Error('unreachable: cpu ends the auto order');
}

/** One line for logs: "device webgpu (why); skipped cuda: reason". */
export function formatDeviceChoice(c: DeviceChoice): string {
  const skipped = c.skipped.map((s) => `; skipped ${s.device}: ${s.reason}`).join('');
  return `device ${c.device} (${c.why})${skipped}`;
}
