/**
 * The GPU check's parts that run without a GPU: with `device: 'cpu'` both sides are the CPU
 * provider, so every parity must hold and the report must be whole; asking for a GPU where none
 * works must stop with the reasons, not check the CPU against itself.
 */
import { describe, expect, it } from 'vitest';
import { chooseOnnxDevice } from '@unias/backend-onnx';
import { GPU_CHECK_TOLERANCE, runGpuCheck } from './gpu-check.js';

describe('runGpuCheck', () => {
  it('on the CPU against itself: forward and training parity hold, and it times what it is asked to', async () => {
    const lines: string[] = [];
    const r = await runGpuCheck({
      device: 'cpu',
      parity: { preset: 'cpu', size: 64, batch: 2, steps: 2 },
      timing: { preset: 'cpu', size: 64, batches: [2], repeats: 1, cpu: false },
      threads: 1,
      referenceOptimization: 'all', // the device's own setting: the same numbers on both sides
      log: (l) => lines.push(l),
    });
    expect(r.device.device).toBe('cpu');
    expect(Object.keys(r.forward.errors).sort()).toEqual(['anomaly_map', 'score']);
    for (const e of Object.values(r.forward.errors)) expect(e).toBeLessThanOrEqual(GPU_CHECK_TOLERANCE.maps);
    expect(r.training.losses_device).toHaveLength(2);
    expect(r.training.losses_device).toEqual(r.training.losses_cpu); // same provider, same numbers
    expect(r.training.param_error).toBe(0);
    expect(r.training.worst_params).toHaveLength(5);
    for (const w of r.training.worst_params) expect(w.error).toBe(0);
    expect(r.pass).toBe(true);
    // Placement is reported (all on the CPU provider, nothing copied).
    expect(r.forward.placement?.nodes['CPUExecutionProvider']).toBeGreaterThan(0);
    expect(r.training.placement?.bytes_copied_per_run).toBe(0);
    expect(r.timing?.inference.map((row) => [row.batch, row.cpu_ms_per_img])).toEqual([[2, null]]);
    expect(r.timing?.training_step.map((row) => row.batch)).toEqual([2]);
    expect(r.timing!.training_step[0]!.device_ms).toBeGreaterThan(0);
    expect(lines.some((l) => /^forward, cpu preset 64x64 batch 2: anomaly_map .* PASS$/.test(l))).toBe(true);
  });

  it("against the default reference ('basic' optimisation) the CPU still passes within the bounds", async () => {
    const r = await runGpuCheck({ device: 'cpu', parity: { preset: 'cpu', size: 64, batch: 2, steps: 2 }, timing: null, threads: 1 });
    expect(r.pass).toBe(true);
    expect(r.training.param_error).toBeGreaterThan(0); // a different graph optimisation: not bit for bit
  });

  it('stops with the reasons when no GPU device works here', async () => {
    const auto = await chooseOnnxDevice('auto', { requireHardwareGpu: true });
    if (auto.device !== 'cpu') return; // a GPU machine: nothing to refuse
    await expect(runGpuCheck({ device: 'auto', timing: null })).rejects.toThrow(/^no GPU device to check: cuda: .*; webgpu: /);
  });
});
