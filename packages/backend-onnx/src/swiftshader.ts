/**
 * SwiftShader, the software Vulkan driver Debian's chromium ships: with it (and the Vulkan loader,
 * Debian's libvulkan1) onnxruntime's WebGPU provider runs on a CPU-only machine, slowly but for
 * real, so tests exercise the GPU code path. Exported as `@unias/backend-onnx/testing`.
 */
import { existsSync } from 'node:fs';
import { detectVulkan } from './vulkan.js';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Undefined when SwiftShader can be used here, else why not (a test's skip reason). */
export function swiftshaderMissing(): string | undefined {
  if (process.platform !== 'linux') return 'SwiftShader tests run on Linux only';
  if (!existsSync(SWIFTSHADER_ICD)) return `no SwiftShader Vulkan driver (${SWIFTSHADER_ICD}; Debian: apt-get install chromium)`;
  if (!detectVulkan().loader) return 'no Vulkan loader (libvulkan.so.1; Debian: apt-get install libvulkan1)';
  return undefined;
}

/** Points the Vulkan loader at SwiftShader alone; call before the process first uses WebGPU. */
export function useSwiftshader(): void {
  process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  delete process.env['VK_DRIVER_FILES'];
}
