/**
 * The UniAS presets' training step (head on cached backbone features, dropout and jitter on,
 * AdamW + clipping) on ONNX Runtime, each preset in its own process (bench/step-time.ts) so that
 * the process's peak RSS is that preset's peak memory. The children start as `unias train` does:
 * with huge pages where an environment variable is all it takes (`huge_pages` in their results).
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PresetName } from '@unias/model';
import { withHugePages } from '@unias/backend-onnx';

export interface PresetTiming {
  readonly preset: PresetName;
  readonly batch: number;
  readonly input_size: number;
  readonly threads: number;
  readonly params: number;
  readonly step_graph_nodes: number;
  readonly gflop_forward: number;
  /** Median wall time of the timed steps. */
  readonly step_ms: number;
  readonly img_per_s: number;
  /** 3x the forward FLOPs of a step over its median time. */
  readonly gflops: number;
  /** Median CPU time of the process per step (moves less than wall time when others share the cores). */
  readonly cpu_ms_per_step: number;
  /** ORT's MatMul 512x512x512 timed right before each step, same threads (median GFLOP/s). */
  readonly matmul_paired_gflops?: number;
  /** Median over the steps of step GFLOP/s / the MatMul rate timed just before it. */
  readonly fraction_of_paired_matmul?: number;
  /** The process's peak RSS (with the MatMul probe's small session, when paired). */
  readonly peak_rss_mb: number;
  /** Whether the preset's process had huge pages, and why (hugePageStatus of @unias/backend-onnx). */
  readonly huge_pages: { readonly active: boolean; readonly reason: string };
  readonly wall_ms: readonly number[];
  readonly losses: readonly number[];
}

/** One preset's step in a child process; at `inputSize` when given (default: the preset's own). */
export function timePreset(name: PresetName, batch: number, steps: number, threads: number, log: (m: string) => void, inputSize?: number): PresetTiming {
  const script = fileURLToPath(new URL('./step-time.ts', import.meta.url));
  const size = inputSize === undefined ? [] : [String(inputSize)];
  log(
    `preset ${name}: batch ${batch}${inputSize === undefined ? '' : `, ${inputSize}x${inputSize}`}, ${steps} timed steps after 2 warm-up steps (child process)`,
  );
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@unias/source', script, name, String(batch), String(steps), String(threads), ...size],
    {
      encoding: 'utf8',
      cwd: dirname(script),
      env: withHugePages(process.env),
      maxBuffer: 1 << 24,
    },
  );
  if (run.status !== 0) throw new Error(`preset ${name} step bench failed (exit ${run.status}): ${run.stderr}`);
  const timing = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as PresetTiming;
  const paired =
    timing.fraction_of_paired_matmul === undefined ? '' : ` (${timing.fraction_of_paired_matmul} of MatMul's ${timing.matmul_paired_gflops} beside each step)`;
  log(`preset ${name}: ${timing.wall_ms.join(', ')} ms per step, ${timing.gflops} GFLOP/s${paired}, peak RSS ${timing.peak_rss_mb} MB`);
  return timing;
}
