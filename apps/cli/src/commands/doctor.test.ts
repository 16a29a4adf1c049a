/**
 * `unias doctor` reports what the libraries find, checked against onnxruntime and the machine
 * directly, and says how it told a software Vulkan driver from a GPU.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { chooseOnnxDevice, detectVulkan, hugePageStatus, INSTALL_HINTS, nchwcBlock, type HugePageStatus } from '@unias/backend-onnx';
import { SWIFTSHADER_ICD, swiftshaderMissing } from '@unias/backend-onnx/testing';
import { runCli } from '../testing/helpers.js';

async function withVulkanDrivers<T>(icd: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env['VK_ICD_FILENAMES'];
  process.env['VK_ICD_FILENAMES'] = icd;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env['VK_ICD_FILENAMES'];
    else process.env['VK_ICD_FILENAMES'] = saved;
  }
}

const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * `unias doctor` in a process of its own: onnxruntime sets up WebGPU (Dawn and the Vulkan loader)
 * once per process, with the drivers visible then, so an earlier probe in this process (the other
 * tests here, on a machine whose system drivers Dawn rejects, e.g. Mesa's lavapipe) would decide
 * what this one finds.
 */
function doctorInOwnProcess(env: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@unias/source', 'src/bin.ts', 'doctor'], {
    cwd: cliDir,
    env: { ...process.env, ...env, UNIAS_HUGE_PAGES: '0' },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('unias doctor', () => {
  it('--json: onnxruntime providers, devices, what auto picks, cores, tfjs runtimes', async () => {
    const r = await runCli(['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      machine: { cores: number; huge_pages: HugePageStatus };
      onnxruntime: {
        version: string;
        providers: unknown[];
        devices: Array<{ device: string; usable: boolean }>;
        auto: { device: string };
        blockedConvBlock?: number;
      };
      tfjs: Array<{ name: string; usable: boolean }>;
    };
    expect(report.machine.cores).toBe(cpus().length);
    // in-process here, so this process's own status (the bin's child is checked in huge-pages-respawn.test.ts)
    expect(report.machine.huge_pages).toEqual(hugePageStatus());
    expect(report.onnxruntime.version).toBe(ort.env.versions.node);
    expect(report.onnxruntime.providers).toEqual(ort.listSupportedBackends());
    expect(report.onnxruntime.auto.device).toBe((await chooseOnnxDevice('auto')).device);
    expect(report.onnxruntime.devices.map((d) => d.device)).toEqual(['cpu', 'webgpu', 'cuda']);
    expect(report.onnxruntime.devices[0]!.usable).toBe(true);
    expect(report.onnxruntime.blockedConvBlock).toBe(await nchwcBlock(ort));
    expect(report.tfjs.map((t) => t.name)).toEqual(['tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu']);
    expect(report.tfjs.find((t) => t.name === 'tfjs-wasm')!.usable).toBe(true);
  });

  it('without a Vulkan driver: webgpu is not usable, and it says what to install', async () => {
    const r = await withVulkanDrivers('/nonexistent/icd.json', () => runCli(['doctor']));
    expect(r.code, r.stderr).toBe(0);
    for (const section of ['machine', 'onnxruntime-node 1.', 'Vulkan (for webgpu)', 'CUDA (for cuda)', 'tfjs'])
      expect(r.stdout).toContain(`\n${section}`.slice(section === 'machine' ? 1 : 0));
    const block = await nchwcBlock(ort);
    expect(r.stdout).toContain(block ? `\n  cpu convs  blocked NCHWc kernels (block ${block})` : '\n  cpu convs  plain Conv only');
    // without the loader itself (libvulkan1 not installed) that is the first thing missing
    if (detectVulkan().loader) {
      expect(r.stdout).toMatch(/^ {2}webgpu {5}no: no Vulkan driver \(unknown \(broken: the manifest does not exist; \/nonexistent\/icd\.json\)\)/m);
    } else {
      expect(r.stdout).toMatch(/^ {2}webgpu {5}no: no Vulkan loader \(libvulkan\.so\.1; /m);
      expect(r.stdout).toContain(`  - ${INSTALL_HINTS.vulkanLoader}`);
    }
    expect(r.stdout).toMatch(/^ {2}auto {7}(cpu|cuda) /m);
    expect(r.stdout).toContain(`  - ${INSTALL_HINTS.vulkanDriver}`);
  });

  const missing = swiftshaderMissing();
  it.skipIf(missing !== undefined)(
    `with SwiftShader only: webgpu runs, auto skips it and says how it knew${missing ? ` (skipped: ${missing})` : ''}`,
    async () => {
      const r = doctorInOwnProcess({ VK_ICD_FILENAMES: SWIFTSHADER_ICD });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^ {2}webgpu {5}yes \(only software Vulkan drivers \(SwiftShader\) in VK_ICD_FILENAMES=.*slower than the CPU provider\)$/m);
      expect(r.stdout).toMatch(/^ {13}skipped webgpu: only software Vulkan drivers \(SwiftShader\)/m);
      expect(r.stdout).toMatch(/^ {2}drivers {4}SwiftShader \(software; /m);
      expect(r.stdout).toMatch(/^ {2}hardware {3}no: only software Vulkan drivers/m);
    },
  );
});
