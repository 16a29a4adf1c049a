/**
 * The one-graph training step (forward, backward, clipping, AdamW, carried state) on onnxruntime's
 * WebGPU provider for real, on SwiftShader (skipped with the reason where it or the Vulkan loader
 * is missing): three steps must give the CPU provider's losses and parameters, and what
 * onnxruntime placed on the CPU and the bytes copied per step are reported. The parameters and
 * moments stay in GPU buffers between steps: the same steps with them sent back to the host every
 * step give the same numbers bit for bit, and a run stopped and restored through getState/setState
 * continues exactly.
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

const newTrainer = (backend: Backend) =>
  createTrainingStep({
    model: smallModel,
    params: init,
    optimizer: adamw({ lr: 3e-3, weightDecay: 0.01 }),
    clipNorm: 1,
    backend,
    seed: 42,
  });

const bytesOf = (m: ReadonlyMap<string, TensorData>) => [...m.values()].reduce((s, t) => s + t.data.byteLength, 0);

async function threeSteps(backend: Backend): Promise<{ losses: number[]; params: ReadonlyMap<string, TensorData>; stateBytes: number }> {
  const trainer = await newTrainer(backend);
  const losses: number[] = [];
  for (const batch of batches) {
    const t0 = performance.now();
    losses.push((await trainer.step(batch)).loss);
    times.push(`${backend.name} ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const { params, optimizer } = await trainer.getState();
  await trainer.dispose();
  return { losses, params, stateBytes: bytesOf(params) + bytesOf(optimizer) };
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
    // Parameters and both AdamW moments stay on the device: a step moves its batch (and random
    // draws) up and its loss down (the next test has the state's share).
    const batchBytes = Object.values(batches[0]!).reduce((s, t) => s + t.data.byteLength, 0);
    expect(p.ioBytes).toBeGreaterThanOrEqual(batchBytes);
  });

  it('state kept on the device gives the numbers of state sent back every step, bit for bit', async () => {
    const placements: PlacementReport[] = [];
    const onPlacement = (r: PlacementReport) => placements.push(r);
    const onHost = await openOnnxDevice('webgpu', { intraOpNumThreads: 1, keepStateOnDevice: false, onPlacement });
    const onDevice = await openOnnxDevice('webgpu', { intraOpNumThreads: 1, onPlacement });
    const [a, b] = [await threeSteps(onHost), await threeSteps(onDevice)];
    expect(a.losses).toEqual(b.losses);
    for (const [name, t] of a.params) expect(Array.from(b.params.get(name)!.data), name).toEqual(Array.from(t.data));
    // Sent back every step, the parameters and both AdamW moments go up and come down: exactly
    // twice the state's bytes more per step than when they stay.
    expect(a.stateBytes).toBeGreaterThanOrEqual(3 * bytesOf(init));
    expect(placements.map((p) => p.ioBytes)).toEqual([placements[1]!.ioBytes + 2 * a.stateBytes, placements[1]!.ioBytes]);
  });

  it('a run restored from getState on the device continues as if never stopped', async () => {
    const gpu = await openOnnxDevice('webgpu', { intraOpNumThreads: 1 });
    const whole = await threeSteps(gpu);
    const first = await newTrainer(gpu);
    await first.step(batches[0]!);
    const saved = await first.getState();
    await first.step(batches[1]!); // moves on after the snapshot: the snapshot must not move with it
    await first.dispose();
    const resumed = await newTrainer(gpu);
    await resumed.setState(saved);
    const losses = [(await resumed.step(batches[1]!)).loss, (await resumed.step(batches[2]!)).loss];
    const { params } = await resumed.getState();
    await resumed.dispose();
    expect(losses).toEqual(whole.losses.slice(1));
    for (const [name, t] of whole.params) expect(Array.from(params.get(name)!.data), name).toEqual(Array.from(t.data));
  });
});
