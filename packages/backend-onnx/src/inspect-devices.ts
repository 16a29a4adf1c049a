/**
 * Everything `unias doctor` says about onnxruntime here: the providers this build of
 * onnxruntime-node lists, whether each device runs (the same check `--device` makes), what `auto`
 * picks, the Vulkan and CUDA setups behind them, and what to install for the missing ones.
 */
import { chooseOnnxDevice, DeviceUnavailableError, type DeviceChoice, type DeviceProbeOptions, type OnnxDevice } from './devices.js';
import { detectCuda, type CudaInfo } from './cuda.js';
import { createOnnxBackend } from './backend.js';
import { detectVulkan, GLVND_INSTALL, type VulkanInfo } from './vulkan.js';

export interface DeviceStatus {
  readonly device: OnnxDevice;
  readonly usable: boolean;
  /** Why not (when not usable), or a note (e.g. a software driver). */
  readonly detail: string;
}

export interface OnnxDeviceReport {
  /** onnxruntime-node's version, or undefined when it does not load (see `loadError`). */
  readonly version: string | undefined;
  readonly loadError?: string;
  /** Providers the build lists; `bundled: false` ones need a separate download. */
  readonly providers: ReadonlyArray<{ readonly name: string; readonly bundled: boolean }>;
  readonly devices: readonly DeviceStatus[];
  /** What `--device auto` picks, or undefined when onnxruntime does not load. */
  readonly auto: DeviceChoice | undefined;
  readonly vulkan: VulkanInfo;
  readonly cuda: CudaInfo;
  /** What to install, one line each, for what is missing. */
  readonly install: readonly string[];
  /**
   * The NCHWc block the CPU provider's convolutions with fed weights run blocked with (nchwc.ts),
   * undefined where they run as plain Conv (no blocked kernels, or UNIAS_ORT_BLOCKED_CONV=0).
   */
  readonly blockedConvBlock?: number;
}

export const INSTALL_HINTS = {
  vulkanLoader: 'WebGPU: install the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1)',
  vulkanDriver:
    "WebGPU: install the GPU's Vulkan driver (NVIDIA: the NVIDIA driver's nvidia_icd.json; in a container add 'graphics' to NVIDIA_DRIVER_CAPABILITIES; AMD and Intel: mesa-vulkan-drivers)",
  glvnd: `WebGPU: install glvnd's libraries, which NVIDIA's Vulkan driver needs (${GLVND_INSTALL})`,
  cudaProvider: 'CUDA: reinstall onnxruntime-node with its CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm install (docs/devices.md)',
  cudaLibraries: 'CUDA: install the CUDA 12 runtime (cudart, cuBLAS, cuFFT, cuRAND) and cuDNN 9 and put them on LD_LIBRARY_PATH',
} as const;

export async function inspectOnnxDevices(options: DeviceProbeOptions = {}): Promise<OnnxDeviceReport> {
  const probe: DeviceProbeOptions = options;
  const vulkan = detectVulkan({ ...(options.env ? { env: options.env } : {}), ...(options.root ? { root: options.root } : {}) });
  const cuda = detectCuda({
    ...(options.env ? { env: options.env } : {}),
    ...(options.root ? { root: options.root } : {}),
    ...(options.bindingDir !== undefined ? { bindingDir: options.bindingDir } : {}),
  });
  const install: string[] = [];
  if (!vulkan.loader) install.push(INSTALL_HINTS.vulkanLoader);
  if (!vulkan.hardwareGpu) install.push(INSTALL_HINTS.vulkanDriver);
  if (vulkan.glvndMissing.length > 0) install.push(INSTALL_HINTS.glvnd);
  if (!cuda.provider) install.push(INSTALL_HINTS.cudaProvider);
  if (cuda.libraries.some((l) => !l.path)) install.push(INSTALL_HINTS.cudaLibraries);
  let ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    const loadError = (e as Error).message.split('\n')[0]!;
    return {
      version: undefined,
      loadError,
      providers: [],
      devices: [],
      auto: undefined,
      vulkan,
      cuda,
      install: ['onnxruntime-node: pnpm install (ONNXRUNTIME_NODE_INSTALL=skip where NuGet is unreachable)', ...install],
    };
  }
  const block = await (await createOnnxBackend()).blockedConvBlock();
  const devices: DeviceStatus[] = [];
  for (const device of ['cpu', 'webgpu', 'cuda'] as const) {
    try {
      const c = await chooseOnnxDevice(device, probe);
      devices.push({ device, usable: true, detail: c.why.replace(/^asked for;? ?/, '') });
    } catch (e) {
      devices.push({ device, usable: false, detail: e instanceof DeviceUnavailableError ? e.reason : (e as Error).message.split('\n')[0]! });
    }
  }
  return {
    version: ort.env.versions.node,
    providers: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })),
    devices,
    auto: await chooseOnnxDevice('auto', probe),
    vulkan,
    cuda,
    install,
    ...(block !== undefined ? { blockedConvBlock: block } : {}),
  };
}
