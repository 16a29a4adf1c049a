/**
 * onnxruntime's WebGPU provider for real, on SwiftShader (a software Vulkan driver; skipped with the
 * reason where it or the Vulkan loader is missing): the same graph and params give the CPU
 * provider's results, what onnxruntime left on the CPU is reported, and `auto` still picks cpu.
 */
import { createRng, initParams, type TensorData } from '@unias/graph';
import { maxRelError, uniform } from '@unias/graph/testing';
import { buildTestNet } from '@unias/onnx-lowering/testing';
import { describe, expect, it } from 'vitest';
import { chooseOnnxDevice, createOnnxBackend, formatPlacement, openOnnxDevice, type PlacementReport } from './index.js';
import { swiftshaderMissing, useSwiftshader } from './swiftshader.js';

const missing = swiftshaderMissing();
if (!missing) useSwiftshader();

describe.skipIf(missing !== undefined)(`WebGPU on SwiftShader${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const graph = buildTestNet(2);
  const params = initParams(graph, 7);
  const rng = createRng(5);
  const image: TensorData = uniform(rng, [2, 3, 9, 8]);

  it('gives the CPU provider results, and reports placement and copies', async () => {
    const placements: PlacementReport[] = [];
    const gpu = await openOnnxDevice('webgpu', { intraOpNumThreads: 1, onPlacement: (r) => placements.push(r) });
    expect(gpu.name).toBe('onnx-webgpu');
    expect(gpu.choice.executionProviders).toEqual(['webgpu', 'cpu']);
    expect(gpu.choice.why).toMatch(/SwiftShader.*slower than the CPU provider/);
    const cpu = await createOnnxBackend({ intraOpNumThreads: 1 });
    const [a, b] = [await gpu.prepare(graph, { params }), await cpu.prepare(graph, { params })];
    const [outGpu, outCpu] = [await a.run({ image }), await b.run({ image })];
    for (const name of Object.keys(outCpu)) {
      expect(outGpu[name]!.shape, name).toEqual(outCpu[name]!.shape);
      expect(maxRelError(outGpu[name]!.data, outCpu[name]!.data), name).toBeLessThanOrEqual(1e-5);
    }
    // A second run is not profiled again.
    await a.run({ image });
    await Promise.all([a.dispose(), b.dispose()]);
    expect(placements).toHaveLength(1);
    const p = placements[0]!;
    console.log(`test net on webgpu: ${formatPlacement(p)}`);
    expect(p.nodes['WebGpuExecutionProvider'] ?? 0).toBeGreaterThan(10);
    // The image goes up and the four outputs come down: at least their bytes move.
    const outBytes = Object.values(outCpu).reduce((s, t) => s + t.data.length * 4, 0);
    expect(p.ioBytes).toBe(image.data.length * 4 + outBytes);
    expect(p.copiedBytes).toBe(p.ioBytes + p.memcpyBytes);
    const onCpu = Object.values(p.cpuOps).reduce((s, n) => s + n, 0);
    expect(onCpu).toBe(p.nodes['CPUExecutionProvider'] ?? 0);
  });

  it('auto never picks the software driver', async () => {
    const auto = await chooseOnnxDevice('auto');
    expect(auto.device === 'cpu' || auto.device === 'cuda').toBe(true);
    expect(auto.skipped.find((s) => s.device === 'webgpu')?.reason).toMatch(/only software Vulkan drivers \(SwiftShader\)/);
  });
});
