/**
 * The GPU check (tools/gpu-check.sh runs it on a GPU machine): a device against onnxruntime's CPU
 * provider on the same graphs, inputs and initial parameters.
 *  - forward: the small preset's inference pipeline, maps and scores within 1e-4 (relative);
 *  - training: 5 steps of the small preset's head (SGD with momentum: Adam's first steps move
 *    every element by about lr whatever its gradient, so where a true gradient is zero, as for a
 *    bias before a group norm of one-channel groups, rounding noise would become lr-sized
 *    differences), losses within 1e-4, parameters within 1e-3 (the attention key biases apart);
 *  - timing: the paper preset's inference (per image) and training step at batch 1 and 8, on the
 *    device and on the CPU, with what onnxruntime placed on the CPU and the bytes copied per run.
 */
import {
  chooseOnnxDevice,
  createOnnxBackend,
  formatDeviceChoice,
  formatPlacement,
  inspectOnnxDevices,
  type DeviceChoice,
  type DeviceRequest,
  type OnnxBackend,
  type PlacementReport,
} from '@unias/backend-onnx';
import { compareTrainedParams } from '@unias/backend-onnx/testing';
import { createRng, initParams, sizeOf, type Backend, type Graph, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { buildInferenceGraph, buildTrainingGraph, presetConfig, resolveConfig, type ModelConfig, type PresetName } from '@unias/model';
import { adamw, createTrainingStep, sgd } from '@unias/training';

export const GPU_CHECK_TOLERANCE = { maps: 1e-4, losses: 1e-4, params: 1e-3 } as const;

export interface GpuCheckOptions {
  /** The device to check (default auto; it must not end up on the CPU unless asked for by name). */
  readonly device?: DeviceRequest;
  /** Accept a software Vulkan driver (SwiftShader) for webgpu: for trying the check on a CPU machine. */
  readonly allowSoftware?: boolean;
  /** Parity: the preset, input size, batch and training steps (default small, 224, 2, 5). */
  readonly parity?: { readonly preset?: PresetName; readonly size?: number; readonly batch?: number; readonly steps?: number };
  /** Timing: the preset and input size (default paper, 224), batches (default [1, 8]) and timed runs (default 3); null: no timing. */
  readonly timing?: {
    readonly preset?: PresetName;
    readonly size?: number;
    readonly batches?: readonly number[];
    readonly repeats?: number;
    readonly cpu?: boolean;
  } | null;
  /** onnxruntime CPU threads (default: onnxruntime's choice, all cores). */
  readonly threads?: number;
  /**
   * Graph optimisation of the CPU provider the parity compares against (default 'basic'). At
   * 'extended' and above its fused MatMuls (MatmulTransposeFusion, MatMulScaleFusion,
   * MatMulAddFusion) move the small preset's pixel-decoder GroupNorm biases 1.0e-3 away from a
   * float64 evaluation of the same 5 steps at 224x224; 'basic' stays within 1e-6 of 'disabled'.
   * The timed CPU runs keep onnxruntime's default ('all').
   */
  readonly referenceOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  readonly log?: (line: string) => void;
}

export interface RunPlacement {
  readonly nodes: Readonly<Record<string, number>>;
  readonly cpu_ops: Readonly<Record<string, number>>;
  readonly bytes_copied_per_run: number;
}

export interface GpuCheckResult {
  readonly device: DeviceChoice;
  readonly vulkan: string;
  readonly forward: {
    readonly preset: string;
    readonly size: number;
    readonly batch: number;
    readonly errors: Readonly<Record<string, number>>;
    readonly pass: boolean;
    readonly placement: RunPlacement | null;
  };
  readonly training: {
    readonly preset: string;
    readonly size: number;
    readonly batch: number;
    readonly steps: number;
    readonly losses_device: readonly number[];
    readonly losses_cpu: readonly number[];
    readonly loss_error: number;
    readonly param_error: number;
    readonly worst_param: string;
    /** The five parameters furthest apart, worst first (what a failing bound is made of). */
    readonly worst_params: ReadonlyArray<{ readonly name: string; readonly error: number }>;
    readonly key_bias_max: number;
    readonly pass: boolean;
    readonly placement: RunPlacement | null;
  };
  readonly timing: null | {
    readonly preset: string;
    readonly size: number;
    readonly inference: ReadonlyArray<{ readonly batch: number; readonly device_ms_per_img: number; readonly cpu_ms_per_img: number | null }>;
    readonly training_step: ReadonlyArray<{
      readonly batch: number;
      readonly device_ms: number;
      readonly cpu_ms: number | null;
      readonly placement: RunPlacement | null;
    }>;
  };
  readonly tolerance: typeof GPU_CHECK_TOLERANCE;
  readonly pass: boolean;
}

const round = (v: number, digits = 4) => Number(v.toPrecision(digits));
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function placementOf(r: PlacementReport | undefined): RunPlacement | null {
  return r ? { nodes: r.nodes, cpu_ops: r.cpuOps, bytes_copied_per_run: r.copiedBytes } : null;
}

/** A preset at a size; below 112 px the 7x7 neighbour mask would cover the whole query grid, so 3x3 there. */
export function sized(preset: PresetName, size: number): ModelConfig {
  return presetConfig(preset, { inputSize: size, ...(size < 112 ? { neighbourSize: 3 } : {}) });
}

function uniformTensor(shape: readonly number[], seed: number, lo: number, hi: number): TensorData {
  return { dtype: 'float32', shape: [...shape], data: createRng(seed).fillUniform(new Float32Array(sizeOf(shape)), lo, hi) };
}

async function timeRuns(run: () => Promise<unknown>, repeats: number): Promise<number> {
  await run(); // warm-up: shader compilation, allocations
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Parity steps use SGD with momentum (no noise amplification); timed steps use AdamW, as training does. */
export async function trainSteps(backend: Backend, graph: Graph, init: ReadonlyMap<string, TensorData>, steps: number, repeatsForTiming = 0) {
  const optimizer = repeatsForTiming > 0 ? adamw({ lr: 1e-3, weightDecay: 1e-4 }) : sgd({ lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const trainer = await createTrainingStep({ model: graph, params: init, optimizer, clipNorm: 0.1, backend, seed: 1 });
  try {
    const feeds: Record<string, TensorData> = {};
    trainer.feedNames.forEach((n, i) => (feeds[n] = uniformTensor(graph.inputs.get(n)!.shape, 10 + i, -1, 1)));
    if (repeatsForTiming > 0) return { ms: await timeRuns(() => trainer.step(feeds), repeatsForTiming), losses: [], params: new Map<string, TensorData>() };
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) losses.push((await trainer.step(feeds)).loss);
    const { params } = await trainer.getState();
    return { ms: 0, losses, params };
  } finally {
    await trainer.dispose();
  }
}

export async function runGpuCheck(options: GpuCheckOptions = {}): Promise<GpuCheckResult> {
  const log = options.log ?? (() => undefined);
  const request = options.device ?? 'auto';
  const device = await chooseOnnxDevice(request, { requireHardwareGpu: request !== 'cpu' && !options.allowSoftware });
  log(formatDeviceChoice(device));
  if (device.device === 'cpu' && request !== 'cpu') {
    throw new Error(`no GPU device to check: ${device.skipped.map((s) => `${s.device}: ${s.reason}`).join('; ')}`);
  }
  const vulkan = (await inspectOnnxDevices()).vulkan.how;
  log(`Vulkan: ${vulkan}`);
  const placements: PlacementReport[] = [];
  const threads = options.threads !== undefined ? { intraOpNumThreads: options.threads } : {};
  const gpu: OnnxBackend = await createOnnxBackend({
    ...threads,
    name: `onnx-${device.device}`,
    executionProviders: device.executionProviders,
    onPlacement: (r) => placements.push(r),
  });
  const reference: OnnxBackend = await createOnnxBackend({ ...threads, name: 'onnx-cpu', graphOptimizationLevel: options.referenceOptimization ?? 'basic' });
  const cpu: OnnxBackend = await createOnnxBackend({ ...threads, name: 'onnx-cpu' });
  const lastPlacement = (before: number) => (placements.length > before ? placements.at(-1) : undefined);

  // ---- forward parity
  const p = {
    preset: options.parity?.preset ?? 'small',
    size: options.parity?.size ?? 224,
    batch: options.parity?.batch ?? 2,
    steps: options.parity?.steps ?? 5,
  };
  const inference = buildInferenceGraph(resolveConfig(sized(p.preset, p.size)));
  const inferenceParams = initParams(inference, 1);
  const image = uniformTensor([p.batch, 3, p.size, p.size], 3, 0, 1);
  const forwardOn = async (b: Backend) => {
    const s = await b.prepare(inference, { params: inferenceParams, dynamicBatch: true });
    try {
      return await s.run({ image });
    } finally {
      await s.dispose();
    }
  };
  let mark = placements.length;
  const [fd, fc] = [await forwardOn(gpu), await forwardOn(reference)];
  const forwardPlacement = lastPlacement(mark);
  const errors: Record<string, number> = {};
  for (const k of Object.keys(fc)) errors[k] = maxRelError(fd[k]!.data, fc[k]!.data);
  const forwardPass = Object.values(errors).every((e) => e <= GPU_CHECK_TOLERANCE.maps);
  log(
    `forward, ${p.preset} preset ${p.size}x${p.size} batch ${p.batch}: ${Object.entries(errors)
      .map(([k, e]) => `${k} ${e.toExponential(2)}`)
      .join(', ')} ${forwardPass ? 'PASS' : 'FAIL'}`,
  );
  if (forwardPlacement) log(`  placement: ${formatPlacement(forwardPlacement)}`);

  // ---- training parity
  const trainGraph = buildTrainingGraph(sized(p.preset, p.size), { batchSize: p.batch });
  const trainInit = initParams(trainGraph, 0);
  mark = placements.length;
  const td = await trainSteps(gpu, trainGraph, trainInit, p.steps);
  const trainPlacement = lastPlacement(mark);
  const tc = await trainSteps(reference, trainGraph, trainInit, p.steps);
  const lossError = maxRelError(td.losses, tc.losses);
  const parity = compareTrainedParams(td.params, tc.params);
  const trainPass = lossError <= GPU_CHECK_TOLERANCE.losses && parity.worst <= GPU_CHECK_TOLERANCE.params && parity.keyBiasMax < 5 * 0.01;
  log(
    `training, ${p.steps} SGD steps: losses ${lossError.toExponential(2)}, parameters ${parity.worst.toExponential(2)} (${parity.worstName}), ` +
      `key biases within ${parity.keyBiasMax.toExponential(2)} of 0 ${trainPass ? 'PASS' : 'FAIL'}`,
  );
  const worstParams = parity.ranked.slice(0, 5);
  log(`  furthest apart: ${worstParams.map((w) => `${w.name} ${w.error.toExponential(2)}`).join(', ')}`);
  if (trainPlacement) log(`  placement: ${formatPlacement(trainPlacement)}`);

  // ---- timing
  let timing: GpuCheckResult['timing'] = null;
  if (options.timing !== null) {
    const t = {
      preset: options.timing?.preset ?? 'paper',
      size: options.timing?.size ?? 224,
      batches: options.timing?.batches ?? [1, 8],
      repeats: options.timing?.repeats ?? 3,
      cpu: options.timing?.cpu ?? true,
    };
    const graph = buildInferenceGraph(resolveConfig(sized(t.preset, t.size)));
    const params = initParams(graph, 1);
    const inferenceRows: Array<{ batch: number; device_ms_per_img: number; cpu_ms_per_img: number | null }> = [];
    const stepRows: Array<{ batch: number; device_ms: number; cpu_ms: number | null; placement: RunPlacement | null }> = [];
    const perImage = async (b: Backend, batch: number) => {
      const s = await b.prepare(graph, { params, dynamicBatch: true });
      try {
        const x = uniformTensor([batch, 3, t.size, t.size], 4, 0, 1);
        return (await timeRuns(() => s.run({ image: x }), t.repeats)) / batch;
      } finally {
        await s.dispose();
      }
    };
    for (const batch of t.batches) {
      const row = { batch, device_ms_per_img: round(await perImage(gpu, batch)), cpu_ms_per_img: t.cpu ? round(await perImage(cpu, batch)) : null };
      inferenceRows.push(row);
      log(
        `${t.preset} preset inference, batch ${batch}: ${row.device_ms_per_img} ms/img on ${device.device}${row.cpu_ms_per_img !== null ? `, ${row.cpu_ms_per_img} ms/img on the CPU` : ''}`,
      );
    }
    for (const batch of t.batches) {
      const g = buildTrainingGraph(sized(t.preset, t.size), { batchSize: batch });
      const init = initParams(g, 0);
      mark = placements.length;
      const deviceMs = (await trainSteps(gpu, g, init, 0, t.repeats)).ms;
      const placement = placementOf(lastPlacement(mark));
      const cpuMs = t.cpu ? (await trainSteps(cpu, g, init, 0, t.repeats)).ms : null;
      stepRows.push({ batch, device_ms: round(deviceMs), cpu_ms: cpuMs === null ? null : round(cpuMs), placement });
      log(
        `${t.preset} preset training step, batch ${batch}: ${round(deviceMs)} ms on ${device.device}${cpuMs !== null ? `, ${round(cpuMs)} ms on the CPU` : ''}; ${placement ? `${(placement.bytes_copied_per_run / 1e6).toFixed(1)} MB copied per step` : ''}`,
      );
    }
    timing = { preset: t.preset, size: t.size, inference: inferenceRows, training_step: stepRows };
  }
  return {
    device,
    vulkan,
    forward: { preset: p.preset, size: p.size, batch: p.batch, errors, pass: forwardPass, placement: placementOf(forwardPlacement) },
    training: {
      preset: p.preset,
      size: p.size,
      batch: p.batch,
      steps: p.steps,
      losses_device: td.losses,
      losses_cpu: tc.losses,
      loss_error: lossError,
      param_error: parity.worst,
      worst_param: parity.worstName,
      worst_params: worstParams,
      key_bias_max: parity.keyBiasMax,
      pass: trainPass,
      placement: placementOf(trainPlacement),
    },
    timing,
    tolerance: GPU_CHECK_TOLERANCE,
    pass: forwardPass && trainPass,
  };
}
