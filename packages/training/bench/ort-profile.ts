/**
 * Reads an onnxruntime profile (the newest .json in a folder, as `enableProfiling` with
 * `profileFilePrefix` there writes it): each node kernel's time in the runs after the warm-up ones,
 * which pay for allocation and kernel selection. Shared by profile-step.ts and ab-step.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KernelEvent {
  /** The node's name (without ORT's `_kernel_time` suffix). */
  readonly node: string;
  readonly op: string;
  /** Microseconds. */
  readonly dur: number;
}

export function readKernelEvents(dir: string, warmup: number): KernelEvent[] {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .at(-1);
  if (!file) throw new Error(`no profile written in ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Array<{
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }>;
  const starts = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const from = starts[warmup] ?? 0;
  return events
    .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= from)
    .map((e) => ({ node: e.name.replace('_kernel_time', ''), op: e.args?.op_name ?? '?', dur: e.dur }));
}
