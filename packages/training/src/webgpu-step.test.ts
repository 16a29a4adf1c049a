/**
 * The one-graph training step (forward, backward, clipping, AdamW, carried state) on onnxruntime's
 * WebGPU provider for real, on SwiftShader (skipped with the reason where it or the Vulkan loader
 * is missing): three steps must give the CPU provider's losses and parameters, and what
 * onnxruntime placed on the CPU and the bytes copied per step are reported.
 */
import { createOnnxBackend, formatPlacement, openOnnxDevice, type PlacementReport } from '@unias/backend-onnx';
import { swiftshaderMissing, useSwiftshader } from '@unias/backend-onnx/testing';
import { createGraph, initParams, type Backend, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { describe, expect, it } from 'vitest';
import { adamw } from './optimizers.js';
import { createTrainingStep } from './training-step.js';
import { keyBias, smallBatch, smallModel, worstParamError } from './testing/small-model.js';

const missing = swiftshaderMissing();
if (!missing) useSwiftshader();

const modelGraph = (() => {
  const b = createGraph({ training: true });
  smallModel(b);
  return b.build();
})();
const init = initParams(modelGraph, 7);
const batches = [0, 1, 2].map((i) => smallBatch(200 + i));
const times: string[] = [];

async function threeSteps(backend: Backend): Promise<{ losses: number[]; params: ReadonlyMap<string, TensorData> }> {
  const trainer = await createTrainingStep({
    model: smallModel,
    params: init,
    optimizer: adamw({ lr: 3e-3, weightDecay: 0.01 }),
    clipNorm: 1,
    backend,
    seed: 42,
  });
  const losses: number[] = [];
  for (const batch of batches) {
    const t0 = performance.now();
    losses.push((await trainer.step(batch)).loss);
    times.push(`${backend.name} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const { params } = await trainer.getState();
  await trainer.dispose();
  return { losses, params };
}

describe.skipIf(missing !== undefined)(`training on WebGPU (SwiftShader)${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('three AdamW steps give the CPU provider losses and parameters (1e-4)', async () => {
    const placements: PlacementReport[] = [];
    const gpu = await openOnnxDevice('webgpu', { intraOpNumThreads: 1, onPlacement: (r) => placements.push(r) });
    const [onGpu, onCpu] = [await threeSteps(gpu), await threeSteps(await createOnnxBackend({ intraOpNumThreads: 1 }))];
    expect(maxRelError(onGpu.losses, onCpu.losses)).toBeLessThanOrEqual(1e-4);
    expect([...onGpu.params.keys()].sort()).toEqual([...onCpu.params.keys()].sort());
    // Every parameter but the attention's key bias, whose true gradient is zero (see small-model.ts).
    const worst = worstParamError(onGpu.params, onCpu.params);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(worstParamError(onCpu.params, init)).toBeGreaterThan(1e-3); // they moved
    for (const run of [onGpu, onCpu]) expect(Math.max(...keyBias(run.params.get('attn.in_proj_bias')!).map(Math.abs))).toBeLessThan(5 * 3e-3);
    expect(placements).toHaveLength(1);
    const p = placements[0]!;
    console.log(
      `training step on webgpu: ${formatPlacement(p)}; worst parameter difference after 3 steps ${worst.toExponential(2)}; steps: ${times.join(', ')}`,
    );
    expect(p.nodes['WebGpuExecutionProvider'] ?? 0).toBeGreaterThan(0);
    // Parameters and both AdamW moments go down and come back every step (onnxruntime-node has no device-resident tensors).
    const paramBytes = [...onCpu.params.values()].reduce((s, t) => s + t.data.length * 4, 0);
    expect(p.ioBytes).toBeGreaterThanOrEqual(2 * 3 * paramBytes);
  });
});
