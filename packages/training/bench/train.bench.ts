/**
 * One training step (forward, backward, clip, AdamW) of a conv + attention block on ONNX Runtime,
 * tfjs-wasm and tfjs-cpu, side by side in one process. JSON to stdout and
 * <repo>/bench-results/train.json; progress on stderr.
 *
 * Block (batch 4, 128 channels at 28x28): two 3x3 convs + GELU, 2x2 average pool to 14x14 = 196
 * tokens, 4-head self-attention + residual + LayerNorm, bilinear upsample back to 28x28 added to
 * the conv features, a 1x1 head, MSE loss.
 *
 * Then the UniAS presets' step at batch 8 (BENCH_PRESET_BATCH), each in its own process, against
 * the MatMul peak (512x512x512 on the same ORT threads) measured in the same run before and after.
 *
 *   pnpm --filter @unias/training bench   (BENCH_ORT_STEPS, BENCH_WASM_STEPS, BENCH_CPU_STEPS change the step
 *   counts; BENCH_PRESETS=cpu,paper the presets timed (small too if named), empty for none;
 *   BENCH_PRESET_STEPS the timed steps per preset, default 12 (paper 5; 8 at batch 1: the steps of one
 *   process move by 20-40% on a shared machine, so the medians need more than 5); the paper preset is
 *   also timed at batch 1 (`presets_batch1`) unless BENCH_PAPER_BATCH1=0)
 */
import { createOnnxBackend } from '@unias/backend-onnx';
import { createTfjsBackend } from '@unias/backend-tfjs';
import { createGraph, createRng, initParams, writeFileAtomic, type Backend, type TensorData } from '@unias/graph';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { adamw, buildStepGraph, countFlops, createTrainingStep, LOSS_OUTPUT, type TrainingStepOptions } from '../src/index.js';
import { block, N, C, S } from './block.js';
import { timeTfjsAutodiff } from './tfjs-autodiff.js';
import { createMatmulProbe } from './matmul-rate.js';
import { timePreset, type PresetTiming } from './presets.js';
import { isPresetName } from '@unias/model';

const log = (msg: string) => process.stderr.write(`[train.bench] ${msg}\n`);
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Step times of the stock-tfjs version of the block, in a child process (kernel registration is global). */
function timeStockTfjs(steps: number, log: (m: string) => void): number[] {
  const script = fileURLToPath(new URL('./tfjs-stock.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=@unias/source', script, String(steps)], { encoding: 'utf8', cwd: dirname(script) });
  if (run.status !== 0) throw new Error(`stock tfjs bench failed: ${run.stderr}`);
  const { step_ms } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { step_ms: number[] };
  log(`tfjs-wasm stock (plain tf ops, tf.variableGrads): ${step_ms.map((t) => t.toFixed(0)).join(', ')} ms`);
  return step_ms;
}
const round = (v: number, digits = 3) => Number(v.toPrecision(digits));

/** Full GCs with turns of the event loop between them, so finalizers of native buffers run too. */
async function forceGc(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') return;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

function feeds(): Record<string, TensorData> {
  const rng = createRng(1);
  const make = (): TensorData => ({ dtype: 'float32', shape: [N, C, S, S], data: rng.fillUniform(new Float32Array(N * C * S * S), -1, 1) });
  return { image: make(), target: make() };
}

interface Timing {
  readonly backend: string;
  readonly stepMs: number[];
  readonly firstMs: number;
  readonly prepareMs: number;
  readonly losses: number[];
}

async function timeBackend(backend: Backend, options: Omit<TrainingStepOptions, 'backend'>, warmup: number, steps: number): Promise<Timing> {
  const t0 = performance.now();
  const trainer = await createTrainingStep({ ...options, backend });
  const prepareMs = performance.now() - t0;
  const data = feeds();
  const losses: number[] = [];
  let firstMs = 0;
  for (let i = 0; i < warmup; i++) {
    const s = performance.now();
    losses.push((await trainer.step(data)).loss);
    if (i === 0) firstMs = performance.now() - s;
  }
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    losses.push((await trainer.step(data)).loss);
    stepMs.push(performance.now() - s);
    log(`${backend.name}: step ${i + 1}/${steps} ${stepMs.at(-1)!.toFixed(0)} ms (loss ${losses.at(-1)!.toFixed(5)})`);
  }
  await trainer.dispose();
  return { backend: backend.name, stepMs, firstMs, prepareMs, losses };
}

/**
 * How many parameter-sized buffers one ORT step allocates and keeps. Measured with JS-visible
 * ArrayBuffer memory (ORT hands outputs back as JS arrays): allocated per step without GC, and
 * live between steps after GC.
 */
async function measureMemory(options: Omit<TrainingStepOptions, 'backend'>, paramBytes: number) {
  const trainer = await createTrainingStep({ ...options, backend: await createOnnxBackend() });
  const carried = Object.keys(await trainer.session.getState()).length;
  const data = feeds();
  await trainer.step(data);
  await trainer.step(data);
  await forceGc();
  const before = process.memoryUsage();
  const rssSteps: number[] = [];
  const allocated: number[] = [];
  for (let i = 0; i < 4; i++) {
    const a = process.memoryUsage().arrayBuffers;
    await trainer.step(data);
    allocated.push(process.memoryUsage().arrayBuffers - a);
    rssSteps.push(process.memoryUsage().rss);
  }
  await forceGc();
  const after = process.memoryUsage();
  await trainer.dispose();
  await forceGc();
  const released = process.memoryUsage();
  return {
    layout: options.layout ?? 'flat',
    carried_tensors: carried,
    param_mb: round(paramBytes / 2 ** 20),
    allocated_per_step_mb: round(median(allocated) / 2 ** 20),
    allocated_per_step_param_copies: round(median(allocated) / paramBytes),
    live_state_param_copies: round((after.arrayBuffers - released.arrayBuffers) / paramBytes),
    arraybuffers_growth_over_4_steps_mb: round((after.arrayBuffers - before.arrayBuffers) / 2 ** 20),
    rss_mb: round(median(rssSteps) / 2 ** 20),
  };
}

/**
 * GFLOP/s of ORT's MatMul 512x512x512 (the median of its runs over one second after warm-up, at
 * least 30): the machine's rate now. One run is under a millisecond; 30 of them were a 30 ms window
 * that a neighbour's burst could halve.
 */
async function matmulPeak(threads: number): Promise<number> {
  const probe = await createMatmulProbe(threads);
  try {
    return await probe.rateOver(1000, 30, 5);
  } finally {
    await probe.dispose();
  }
}

async function main(): Promise<void> {
  // Other processes on these 2 cores slow ORT's two-thread runs far more than one-thread wasm: recorded.
  const loadAtStart = loadavg().map((v) => round(v));
  const count = (name: string, fallback: number) => {
    const v = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${process.env[name]}`);
    return v;
  };
  const ortSteps = count('BENCH_ORT_STEPS', 10);
  const wasmSteps = count('BENCH_WASM_STEPS', 3);
  const cpuSteps = count('BENCH_CPU_STEPS', 1);

  const g = createGraph({ training: true });
  g.output(LOSS_OUTPUT, block(g));
  const forwardGraph = g.build();
  const params = initParams(forwardGraph, 0);
  const options: Omit<TrainingStepOptions, 'backend'> = { model: block, params, optimizer: adamw({ lr: 1e-3, weightDecay: 0.01 }), clipNorm: 1 };
  const forward = countFlops(forwardGraph);
  const step = buildStepGraph(options);
  const stepFlops = countFlops(step.graph);
  const paramCount = [...forwardGraph.params.values()].reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  log(
    `block: ${paramCount} params, forward ${(forward.total / 1e9).toFixed(2)} GFLOP, step graph ${(stepFlops.total / 1e9).toFixed(2)} GFLOP, ${step.graph.nodes.length} nodes`,
  );

  const ort = await timeBackend(await createOnnxBackend(), options, 2, ortSteps);
  const ort1 = await timeBackend(
    await createOnnxBackend({ intraOpNumThreads: 1, name: 'onnx-cpu-1thread' }),
    options,
    1,
    Math.max(3, Math.round(ortSteps / 2)),
  );
  const wasm = await timeBackend(await createTfjsBackend({ prefer: ['tfjs-wasm'] }), options, 1, wasmSteps);
  const cpu = await timeBackend(await createTfjsBackend({ prefer: ['tfjs-cpu'] }), options, 0, cpuSteps);
  const wasmAutodiffTimes = await timeTfjsAutodiff('tfjs-wasm', forwardGraph, params, feeds(), wasmSteps, log);
  const wasmAutodiff = median(wasmAutodiffTimes);
  const stockTimes = timeStockTfjs(wasmSteps, log);
  const stock = median(stockTimes);
  const memory = await measureMemory(options, paramCount * 4);
  const memoryPerParam = await measureMemory({ ...options, layout: 'per-param' }, paramCount * 4);
  const presetBatch = count('BENCH_PRESET_BATCH', 8);
  // The peak is read before each preset's process and after them all; the fractions use the
  // highest reading (the machine's rate moves by ~15% within a run).
  const readings: { when: string; gflops: number }[] = [];
  const readPeak = async (when: string) => {
    const gflops = await matmulPeak(2);
    readings.push({ when, gflops: round(gflops) });
    log(`MatMul 512x512x512, 2 threads, ${when}: ${gflops.toFixed(1)} GFLOP/s`);
  };
  const presets: Record<string, PresetTiming & { fraction_of_matmul_peak?: number }> = {};
  for (const name of (process.env['BENCH_PRESETS'] ?? 'cpu,paper').split(',').filter(Boolean)) {
    if (!isPresetName(name)) throw new Error(`BENCH_PRESETS: unknown preset "${name}"`);
    await readPeak(`before ${name} batch ${presetBatch}`);
    presets[name] = timePreset(name, presetBatch, count('BENCH_PRESET_STEPS', name === 'paper' ? 5 : 12), 2, log);
    // the cpu target is at 224x224; the preset trains at its own 256x256 (BENCH_CPU_224=0 skips it)
    if (name === 'cpu' && presets[name].input_size !== 224 && process.env['BENCH_CPU_224'] !== '0') {
      await readPeak(`before cpu 224x224 batch ${presetBatch}`);
      presets['cpu_224'] = timePreset(name, presetBatch, count('BENCH_PRESET_STEPS', 12), 2, log, 224);
    }
  }
  // the second paper target is at batch 1 (BENCH_PAPER_BATCH1=0 skips it)
  const batch1: Record<string, PresetTiming & { fraction_of_matmul_peak?: number }> = {};
  if (presets['paper'] && presetBatch !== 1 && process.env['BENCH_PAPER_BATCH1'] !== '0') {
    await readPeak('before paper batch 1');
    batch1['paper'] = timePreset('paper', 1, 8, 2, log);
  }
  await readPeak('at the end');
  const matmulPeakGflops = Math.max(...readings.map((r) => r.gflops));
  for (const p of [...Object.values(presets), ...Object.values(batch1)]) p.fraction_of_matmul_peak = round(p.gflops / matmulPeakGflops);

  const trainFlops = 3 * forward.total;
  const summary = (t: Timing) => {
    const ms = median(t.stepMs);
    const best = Math.min(...t.stepMs);
    return {
      ms: round(ms),
      best_ms: round(best),
      img_per_s: round((N * 1000) / ms),
      best_img_per_s: round((N * 1000) / best),
      gflops_3x_forward: round(trainFlops / ms / 1e6),
      best_gflops_3x_forward: round(trainFlops / best / 1e6),
      gflops_counted: round(stepFlops.total / ms / 1e6),
    };
  };
  const o = summary(ort);
  const o1 = summary(ort1);
  const w = summary(wasm);
  const c = summary(cpu);

  const result = {
    bench: 'train',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    load_average_at_start: loadAtStart,
    load_average_at_end: loadavg().map((v) => round(v)),
    block: {
      description:
        'batch 4, 128ch 28x28: 2x (3x3 conv 128->128 + GELU), avgpool2 -> 196-token 4-head MHA + residual + LayerNorm, bilinear up + add, 1x1 head, MSE; AdamW + clip_grad_norm_',
      params: paramCount,
      gflop_forward: round(forward.total / 1e9),
      gflop_train_3x_forward: round(trainFlops / 1e9),
      gflop_step_graph_counted: round(stepFlops.total / 1e9),
      step_graph_nodes: step.graph.nodes.length,
      ort_img_per_s: o.img_per_s,
      tfjs_wasm_img_per_s: w.img_per_s,
      tfjs_cpu_img_per_s: c.img_per_s,
      ort_step_ms: o.ms,
      tfjs_wasm_step_ms: w.ms,
      tfjs_cpu_step_ms: c.ms,
      ort_gflops: o.gflops_3x_forward,
      tfjs_wasm_gflops: w.gflops_3x_forward,
      tfjs_cpu_gflops: c.gflops_3x_forward,
      ort_gflops_counted: o.gflops_counted,
      ratio_ort_vs_tfjs_wasm: round(o.img_per_s / w.img_per_s),
      // Best step of each run: the cost without interference from other processes on the two
      // cores (which slows two-thread ORT far more than one-thread wasm).
      best: {
        ort_step_ms: o.best_ms,
        ort_img_per_s: o.best_img_per_s,
        ort_gflops: o.best_gflops_3x_forward,
        ort_1thread_step_ms: o1.best_ms,
        tfjs_wasm_step_ms: w.best_ms,
        tfjs_wasm_img_per_s: w.best_img_per_s,
        tfjs_wasm_autodiff_step_ms: round(Math.min(...wasmAutodiffTimes)),
        tfjs_cpu_step_ms: c.best_ms,
        ratio_ort_vs_tfjs_wasm: round(w.best_ms / o.best_ms),
        ratio_ort_vs_tfjs_wasm_autodiff: round(Math.min(...wasmAutodiffTimes) / o.best_ms),
        tfjs_wasm_stock_step_ms: round(Math.min(...stockTimes)),
        ratio_ort_vs_tfjs_wasm_stock: round(Math.min(...stockTimes) / o.best_ms),
        ratio_ort_vs_tfjs_cpu: round(c.best_ms / o.best_ms),
      },
      ort_1thread_img_per_s: o1.img_per_s,
      ort_1thread_step_ms: o1.ms,
      ort_1thread_gflops: o1.gflops_3x_forward,
      ratio_ort_1thread_vs_tfjs_wasm: round(o1.img_per_s / w.img_per_s),
      ratio_ort_vs_tfjs_cpu: round(o.img_per_s / c.img_per_s),
      tfjs_wasm_autodiff_img_per_s: round((N * 1000) / wasmAutodiff),
      tfjs_wasm_autodiff_step_ms: round(wasmAutodiff),
      ratio_ort_vs_tfjs_wasm_autodiff: round(o.img_per_s / ((N * 1000) / wasmAutodiff)),
      // The block in plain tfjs ops on stock tfjs-wasm (only its three missing gradient kernels
      // registered; none of @unias/backend-tfjs's speed-ups): what a tfjs user trains at.
      tfjs_wasm_stock_img_per_s: round((N * 1000) / stock),
      tfjs_wasm_stock_step_ms: round(stock),
      ratio_ort_vs_tfjs_wasm_stock: round(o.img_per_s / ((N * 1000) / stock)),
      target_ratio_ort_vs_tfjs_wasm: 20,
      steps_timed: { ort: ortSteps, tfjs_wasm: wasmSteps, tfjs_cpu: cpuSteps },
      first_step_ms: { ort: round(ort.firstMs), tfjs_wasm: round(wasm.firstMs) },
      prepare_ms: { ort: round(ort.prepareMs), tfjs_wasm: round(wasm.prepareMs), tfjs_cpu: round(cpu.prepareMs) },
      // Same init and data: the first step's loss (the forward at init) on each backend.
      first_loss: { ort: ort.losses[0], tfjs_wasm: wasm.losses[0], tfjs_cpu: cpu.losses[0] },
    },
    // the machine's rate in this run: the presets' GFLOP/s are read against it
    matmul_peak_gflops: round(matmulPeakGflops),
    matmul_gflops_readings: readings,
    memory_ort: memory,
    memory_ort_per_param_layout: memoryPerParam,
    presets: {
      description: `UniAS head on cached backbone features (training graph of @unias/model: dropout and feature jitter on), AdamW + clip_grad_norm_, batch ${presetBatch}, ONNX Runtime 2 threads; gflops = 3x forward FLOPs / median step; fraction_of_matmul_peak = gflops / matmul_peak_gflops (the highest of the run's readings, each before a preset's process); fraction_of_paired_matmul = the median over steps of each step's GFLOP/s / a MatMul rate timed in the preset's process right before that step; cpu_224 = the cpu preset at 224x224 (the size of the issue's cpu target; the preset's own is 256x256); peak_rss_mb = the preset's own process, started as \`unias train\` starts itself: with huge pages where an environment variable is all it takes (huge_pages)`,
      targets: {
        paper_batch8_fraction_of_matmul_peak: 0.75,
        paper_batch1_fraction_of_matmul_peak: 0.55,
        cpu_fraction_of_matmul_peak: 0.25,
        cpu_224_fraction_of_matmul_peak: 0.25,
      },
      ...presets,
    },
    ...(Object.keys(batch1).length > 0 ? { presets_batch1: batch1 } : {}),
  };
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n`);
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  await writeFileAtomic(resolve(repo, 'bench-results/train.json'), `${json}\n`);
  log(`written ${resolve(repo, 'bench-results/train.json')}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`[train.bench] failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
