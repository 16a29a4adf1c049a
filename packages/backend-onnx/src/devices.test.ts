/**
 * Device detection and choice on made-up machines: a folder stands in for /, holding the Vulkan
 * loader, driver manifests, their libraries and GPU device nodes, so each case is exact.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chooseOnnxDevice,
  CUDA_LIBRARIES,
  detectCuda,
  detectVulkan,
  DeviceUnavailableError,
  formatDeviceChoice,
  openOnnxDevice,
  shortOrtError,
} from './index.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function machine(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'unias-devices-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const icd = (library: string) => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.3.0' } });
const LIB = 'usr/lib/x86_64-linux-gnu';
/** The environment of a machine whose home and data folders are all under its root. */
const envOf = (root: string, extra: Record<string, string> = {}) => ({ HOME: join(root, 'home'), ...extra });

describe('detectVulkan', () => {
  it('finds a hardware driver with its GPU device node, and says how it knew', () => {
    const root = machine({
      [`${LIB}/libvulkan.so.1`]: '',
      [`${LIB}/libGLX_nvidia.so.0`]: '',
      'usr/share/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'),
      'dev/nvidia0': '',
    });
    const v = detectVulkan({ env: envOf(root), root });
    expect(v.loader).toBe(join(root, LIB, 'libvulkan.so.1'));
    expect(v.drivers).toEqual([
      { manifest: join(root, 'usr/share/vulkan/icd.d/nvidia_icd.json'), library: 'libGLX_nvidia.so.0', vendor: 'NVIDIA', kind: 'hardware' },
    ]);
    expect(v.deviceNodes).toEqual(['/dev/nvidia0']);
    expect(v.hardwareGpu).toBe(true);
    expect(v.how).toMatch(/hardware Vulkan driver NVIDIA .* and GPU device \/dev\/nvidia0/);
    // A CUDA container without graphics libraries: NVIDIA's driver would create no instance.
    expect(v.glvndMissing).toEqual(['libGLdispatch.so.0', 'libEGL.so.1', 'libGLX.so.0']);
    writeFileSync(join(root, LIB, 'libEGL.so.1'), '');
    writeFileSync(join(root, LIB, 'libGLdispatch.so.0'), '');
    expect(detectVulkan({ env: envOf(root), root }).glvndMissing).toEqual(['libGLX.so.0']);
    mkdirSync(join(root, 'opt'));
    writeFileSync(join(root, 'opt', 'libGLX.so.0'), '');
    expect(detectVulkan({ env: envOf(root, { LD_LIBRARY_PATH: join(root, 'opt') }), root }).glvndMissing).toEqual([]);
  });

  it('does not count a hardware driver without a GPU device node', () => {
    const root = machine({
      [`${LIB}/libvulkan.so.1`]: '',
      [`${LIB}/libvulkan_radeon.so`]: '',
      'etc/vulkan/icd.d/radeon_icd.x86_64.json': icd('libvulkan_radeon.so'),
    });
    const v = detectVulkan({ env: envOf(root), root });
    expect(v.drivers.map((d) => [d.vendor, d.kind])).toEqual([['AMD', 'hardware']]);
    expect(v.glvndMissing).toEqual([]); // only NVIDIA's driver goes through glvnd
    expect(v.hardwareGpu).toBe(false);
    expect(v.how).toMatch(/no GPU device node/);
  });

  it('classes SwiftShader and lavapipe as software, also when named by VK_ICD_FILENAMES', () => {
    const root = machine({
      [`${LIB}/libvulkan.so.1`]: '',
      'chromium/libvk_swiftshader.so': '',
      'chromium/vk_swiftshader_icd.json': icd('./libvk_swiftshader.so'),
      [`${LIB}/libvulkan_lvp.so`]: '',
      'usr/share/vulkan/icd.d/lvp_icd.x86_64.json': icd('libvulkan_lvp.so'),
      'dev/dri/renderD128': '',
    });
    const viaEnv = detectVulkan({ env: envOf(root, { VK_ICD_FILENAMES: join(root, 'chromium/vk_swiftshader_icd.json') }), root });
    // The variable replaces the standard folders, as in the Vulkan loader.
    expect(viaEnv.drivers.map((d) => [d.vendor, d.kind])).toEqual([['SwiftShader', 'software']]);
    expect(viaEnv.hardwareGpu).toBe(false);
    expect(viaEnv.how).toMatch(/^only software Vulkan drivers \(SwiftShader\) in VK_ICD_FILENAMES=/);
    const standard = detectVulkan({ env: envOf(root), root });
    expect(standard.drivers.map((d) => [d.vendor, d.kind])).toEqual([['lavapipe', 'software']]);
    expect(standard.hardwareGpu).toBe(false);
  });

  it('reports missing manifests, missing libraries and a missing loader', () => {
    const root = machine({ 'usr/share/vulkan/icd.d/nvidia_icd.json': icd('libGLX_nvidia.so.0'), 'dev/nvidia0': '' });
    const v = detectVulkan({ env: envOf(root), root });
    expect(v.loader).toBeUndefined();
    expect(v.drivers[0]).toMatchObject({ vendor: 'NVIDIA', kind: 'broken', problem: 'its library libGLX_nvidia.so.0 is not there' });
    expect(v.hardwareGpu).toBe(false);
    const none = detectVulkan({ env: envOf(root, { VK_ICD_FILENAMES: join(root, 'nope.json') }), root });
    expect(none.drivers[0]).toMatchObject({ kind: 'broken', problem: 'the manifest does not exist' });
  });
});

describe('detectCuda', () => {
  it('is complete only with the provider library, every CUDA library and an NVIDIA device', () => {
    const files: Record<string, string> = { 'binding/libonnxruntime_providers_cuda.so': '', 'dev/nvidia0': '' };
    for (const l of CUDA_LIBRARIES) files[`${LIB}/${l}`] = '';
    const root = machine(files);
    const full = detectCuda({ env: {}, root, bindingDir: join(root, 'binding') });
    expect(full.complete).toBe(true);
    expect(full.missing).toBe('');
    expect(full.provider).toBe(join(root, 'binding/libonnxruntime_providers_cuda.so'));
    rmSync(join(root, LIB, 'libcudnn.so.9'));
    const noCudnn = detectCuda({ env: {}, root, bindingDir: join(root, 'binding') });
    expect(noCudnn.complete).toBe(false);
    expect(noCudnn.missing).toBe('libraries not found: libcudnn.so.9');
    const bare = detectCuda({ env: {}, root: machine({}), bindingDir: null });
    expect(bare.missing).toMatch(/binding folder was not found; libraries not found: libcuda\.so\.1, .*; no NVIDIA device/);
  });
});

describe('chooseOnnxDevice', () => {
  const noVulkanDriver = () => {
    const root = machine({ [`${LIB}/libvulkan.so.1`]: '' });
    return { env: envOf(root), root };
  };

  it('cpu is always there', async () => {
    expect(await chooseOnnxDevice('cpu', noVulkanDriver())).toEqual({ device: 'cpu', executionProviders: ['cpu'], skipped: [], why: 'asked for' });
  });

  it('webgpu without a Vulkan driver is a one-line error; auto falls back to cpu and says why', async () => {
    const probe = noVulkanDriver();
    const err = await chooseOnnxDevice('webgpu', probe).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceUnavailableError);
    expect((err as Error).message).toMatch(/^device webgpu is not available: no Vulkan driver .*docs\/devices\.md\)$/);
    expect((err as Error).message).not.toContain('\n');
    const auto = await chooseOnnxDevice('auto', { ...probe, bindingDir: null });
    expect(auto.device).toBe('cpu');
    expect(auto.executionProviders).toEqual(['cpu']);
    expect(auto.skipped.map((s) => s.device)).toEqual(['cuda', 'webgpu']);
    expect(auto.skipped[1]!.reason).toMatch(/^no Vulkan driver/);
    expect(formatDeviceChoice(auto)).toMatch(/^device cpu \(the only device that works here\); skipped cuda: .*; skipped webgpu: no Vulkan driver/);
  });

  it('webgpu without the Vulkan loader names the package to install', async () => {
    const root = machine({});
    await expect(chooseOnnxDevice('webgpu', { env: envOf(root), root })).rejects.toThrow(
      /no Vulkan loader \(libvulkan\.so\.1; Debian\/Ubuntu: apt-get install libvulkan1\)/,
    );
  });

  it('auto and the onnx-webgpu candidate skip a software driver; webgpu alone would try it', async () => {
    const root = machine({ [`${LIB}/libvulkan.so.1`]: '', 'sw/libvk_swiftshader.so': '', 'sw/icd.json': icd('./libvk_swiftshader.so') });
    const probe = { env: envOf(root, { VK_ICD_FILENAMES: join(root, 'sw/icd.json') }), root, bindingDir: null };
    const auto = await chooseOnnxDevice('auto', probe);
    expect(auto.device).toBe('cpu');
    expect(auto.skipped.find((s) => s.device === 'webgpu')?.reason).toMatch(/only software Vulkan drivers \(SwiftShader\).*slower than the CPU provider/);
    await expect(chooseOnnxDevice('webgpu', { ...probe, requireHardwareGpu: true })).rejects.toThrow(/software driver/);
  });

  it('cuda without its provider library is a one-line error naming the install flag', async () => {
    await expect(chooseOnnxDevice('cuda', { bindingDir: null })).rejects.toThrow(/^device cuda is not available: .*binding folder was not found$/);
    const root = machine({ 'binding/onnxruntime_binding.node': '' });
    await expect(openOnnxDevice('cuda', { bindingDir: join(root, 'binding') })).rejects.toThrow(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });

  it('rejects an unknown device, listing the known ones', async () => {
    await expect(chooseOnnxDevice('tpu' as never)).rejects.toThrow('unknown device "tpu"; devices: auto, cpu, webgpu, cuda');
  });

  it('shortens onnxruntime assertion messages to their reason', () => {
    const raw =
      '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\n';
    expect(shortOrtError(new Error(raw))).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(shortOrtError(new Error('plain'))).toBe('plain');
  });
});
