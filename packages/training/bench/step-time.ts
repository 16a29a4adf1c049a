/**
 * Diagnostic: one preset's training step on ONNX Runtime, wall and process CPU time per step (CPU
 * time barely moves when other processes share the cores; wall time is what a user waits). One
 * JSON line on stdout, so two checkouts can be timed alternately by a script.
 *
 *   tsx --conditions=@unias/source bench/step-time.ts preset batch [steps=3] [threads=2] [input size]
 *
 * LAYOUT=per-param and FLAT_HOLDER_LIMIT=n (elements) change how the state is carried. Besides the
 * step it reports the backend's run alone (the rest is JS: random draws, feeds) and the page faults
 * and system time per step (fresh pages for large outputs cost ~10 us each on these VMs).
 *
 * Right before each timed step it times ORT's MatMul 512x512x512 on the same threads (10 warm-up
 * runs, then 100 ms; a session of its own; PAIRED_MATMUL=0 leaves it out), so that each step's
 * GFLOP/s has the machine's rate of that moment beside it: `fraction_of_paired_matmul` is the
 * median over the steps of step GFLOP/s / MatMul GFLOP/s. A slow spell of the shared machine
 * slows both.
 */
import { createOnnxBackend, hugePageStatus } from '@unias/backend-onnx';
import { sizeOf, type TensorData } from '@unias/graph';
import { buildTrainingGraph, isPresetName, presetConfig } from '@unias/model';
import { adamw, countFlops, createTrainingStep } from '../src/index.js';
import { createMatmulProbe } from './matmul-rate.js';
import { seededFeeds } from './seeded-feeds.js';

async function main(): Promise<void> {
  const [name = 'cpu', batchArg = '8', stepsArg = '3', threadsArg = '2', sizeArg] = process.argv.slice(2);
  if (!isPresetName(name)) throw new Error(`unknown preset ${name}`);
  const batch = Number(batchArg);
  const config = presetConfig(name, sizeArg ? { inputSize: Number(sizeArg) } : {});
  const graph = buildTrainingGraph(config, { batchSize: batch });
  const backend = await createOnnxBackend({ intraOpNumThreads: Number(threadsArg) });
  const trainer = await createTrainingStep({
    model: graph,
    params: (await import('@unias/graph')).initParams(graph, 0),
    optimizer: adamw({ lr: 1e-4, weightDecay: 1e-4 }),
    clipNorm: 0.1,
    ...(process.env['LAYOUT'] === 'per-param' ? { layout: 'per-param' as const } : {}),
    ...(process.env['FLAT_HOLDER_LIMIT'] ? { flatHolderLimit: Number(process.env['FLAT_HOLDER_LIMIT']) } : {}),
    backend,
    seed: 1,
  });
  const feeds = seededFeeds(graph, trainer.feedNames);
  // time the backend's run inside each step (the step calls it on this same object)
  const session = trainer.session as { run: (f: Record<string, TensorData>) => Promise<Record<string, TensorData>> };
  const run = session.run.bind(session);
  const runMs: number[] = [];
  session.run = async (f) => {
    const t = performance.now();
    const r = await run(f);
    runMs.push(performance.now() - t);
    return r;
  };
  const probe = process.env['PAIRED_MATMUL'] === '0' ? undefined : await createMatmulProbe(Number(threadsArg));
  await trainer.step(feeds);
  await trainer.step(feeds);
  runMs.length = 0;
  const probeGflops: number[] = [];
  const usage = process.resourceUsage();
  const wall: number[] = [];
  const cpu: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < Number(stepsArg); i++) {
    if (probe) probeGflops.push(await probe.rateOver(100, 30, 10));
    const c = process.cpuUsage();
    const t = performance.now();
    losses.push((await trainer.step(feeds)).loss);
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  const used = process.resourceUsage();
  await trainer.dispose();
  await probe?.dispose();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const forward = countFlops(graph).total;
  const flops = 3 * forward;
  const ms = median(wall);
  const paired = probeGflops.map((rate, i) => flops / wall[i]! / 1e6 / rate);
  const result = {
    preset: name,
    batch,
    input_size: config.inputSize,
    threads: Number(threadsArg),
    params: [...graph.params.values()].reduce((a, p) => a + sizeOf(p.shape), 0),
    step_graph_nodes: trainer.graph.nodes.length,
    gflop_forward: +(forward / 1e9).toPrecision(4),
    step_ms: Math.round(ms),
    img_per_s: +((batch * 1000) / ms).toPrecision(3),
    gflops: +(flops / ms / 1e6).toPrecision(3),
    cpu_ms_per_step: Math.round(median(cpu)),
    ...(probe
      ? {
          matmul_paired_gflops: +median(probeGflops).toPrecision(3),
          fraction_of_paired_matmul: +median(paired).toPrecision(3),
        }
      : {}),
    session_run_ms: Math.round(median(runMs)),
    minor_faults_per_step: Math.round((used.minorPageFault - usage.minorPageFault) / wall.length),
    sys_ms_per_step: Math.round((used.systemCPUTime - usage.systemCPUTime) / 1000 / wall.length),
    // this process's high-water mark: one preset per process, so it is the step's peak
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    huge_pages: (({ active, reason }) => ({ active, reason }))(hugePageStatus()),
    wall_ms: wall.map(Math.round),
    cpu_ms: cpu.map(Math.round),
    losses,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
