/**
 * A Vulkan driver manifest whose library is not a driver: the detection cannot tell, so onnxruntime
 * itself is asked and fails ("Failed to get a WebGPU adapter"); `--device webgpu` must turn that
 * into one line, and `auto` must not choose webgpu. Its own file (own process): the Vulkan
 * environment is read when WebGPU first starts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseOnnxDevice, detectVulkan, DeviceUnavailableError } from './index.js';

const loader = process.platform === 'linux' ? detectVulkan().loader : undefined;
const dir = mkdtempSync(join(tmpdir(), 'unias-fake-icd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
if (loader) {
  writeFileSync(join(dir, 'libnot_a_driver.so'), 'not an ELF file');
  writeFileSync(
    join(dir, 'fake_icd.json'),
    JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: './libnot_a_driver.so', api_version: '1.3.0' } }),
  );
  process.env['VK_ICD_FILENAMES'] = join(dir, 'fake_icd.json');
  delete process.env['VK_DRIVER_FILES'];
}

describe.skipIf(!loader)(`a Vulkan driver that does not load${loader ? '' : ' (skipped: no Vulkan loader libvulkan.so.1)'}`, () => {
  it('--device webgpu fails with one line from onnxruntime, auto falls back', async () => {
    const err = await chooseOnnxDevice('webgpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceUnavailableError);
    expect((err as Error).message).toBe(
      'device webgpu is not available: the WebGPU provider got no GPU adapter: Failed to get a WebGPU adapter: No supported adapters',
    );
    const auto = await chooseOnnxDevice('auto');
    expect(auto.device).not.toBe('webgpu');
    expect(auto.skipped.map((s) => s.device)).toContain('webgpu');
  });
});
