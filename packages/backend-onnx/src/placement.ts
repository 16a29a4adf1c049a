/**
 * Where onnxruntime ran each node, read from its own profile of one run (the Node API has no other
 * window on placement): how many nodes each execution provider took, which op types fell back to
 * the CPU, and how many bytes crossed between host and device: the Memcpy nodes onnxruntime
 * inserts between providers inside the graph, and the run's feeds and fetches (onnxruntime-node
 * keeps every input and output in host memory, so on a GPU provider each crosses once per run).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PlacementReport {
  /** Nodes per execution provider, e.g. { WebGpuExecutionProvider: 412, CPUExecutionProvider: 9 }. */
  readonly nodes: Readonly<Record<string, number>>;
  /** Op types placed on the CPU provider (with counts) when another provider was asked for first. */
  readonly cpuOps: Readonly<Record<string, number>>;
  /** Bytes moved by MemcpyFromHost / MemcpyToHost nodes inside the graph in the profiled run. */
  readonly memcpyBytes: number;
  /** Bytes of the run's feeds and fetches (host memory in onnxruntime-node). */
  readonly ioBytes: number;
  /** Bytes copied between host and device per run: both of the above when a non-CPU provider ran nodes, else 0. */
  readonly copiedBytes: number;
}

interface ProfileEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly args?: { readonly provider?: string; readonly op_name?: string; readonly output_size?: string | number };
}

const CPU = 'CPUExecutionProvider';

/** Summarises the events of an onnxruntime profile (the JSON array its profiler writes). */
export function placementFromProfile(events: readonly ProfileEvent[], ioBytes = 0): PlacementReport {
  const nodes: Record<string, number> = {};
  const cpuOps: Record<string, number> = {};
  let memcpyBytes = 0;
  for (const e of events) {
    // Each node has fence_before / kernel_time / fence_after events; count it once.
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const provider = e.args?.provider ?? 'unknown';
    const op = e.args?.op_name ?? 'unknown';
    nodes[provider] = (nodes[provider] ?? 0) + 1;
    if (provider === CPU) cpuOps[op] = (cpuOps[op] ?? 0) + 1;
    if (op === 'MemcpyFromHost' || op === 'MemcpyToHost') memcpyBytes += Number(e.args?.output_size ?? 0);
  }
  const onlyCpu = Object.keys(nodes).every((p) => p === CPU);
  return { nodes, cpuOps: onlyCpu ? {} : cpuOps, memcpyBytes, ioBytes, copiedBytes: onlyCpu ? 0 : memcpyBytes + ioBytes };
}

/** "412 nodes on WebGpuExecutionProvider, 9 on CPUExecutionProvider (Shape x6, Gather x3); 1.2 MB copied". */
export function formatPlacement(r: PlacementReport): string {
  const parts = Object.entries(r.nodes)
    .sort((a, b) => b[1] - a[1])
    .map(([p, n], i) => {
      const ops =
        p === CPU && Object.keys(r.cpuOps).length > 0
          ? ` (${Object.entries(r.cpuOps)
              .sort((a, b) => b[1] - a[1])
              .map(([op, k]) => `${op} x${k}`)
              .join(', ')})`
          : '';
      return `${n} ${i === 0 ? 'nodes ' : ''}on ${p}${ops}`;
    });
  const mb = (n: number) => (n / 1e6).toFixed(3);
  return `${parts.join(', ') || 'no nodes'}; ${mb(r.copiedBytes)} MB copied between host and device per run (${mb(r.ioBytes)} MB feeds and fetches, ${mb(r.memcpyBytes)} MB inside the graph)`;
}

/** A fresh folder for one session's profile, and a reader that parses and removes it. */
export async function profileFolder(): Promise<{ prefix: string; read(ioBytes: number): Promise<PlacementReport>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'unias-ort-profile-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  return {
    prefix: join(dir, 'profile'),
    async read(ioBytes: number) {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
      if (files.length !== 1) throw new Error(`expected one onnxruntime profile in ${dir}, found ${files.length}`);
      const events = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as ProfileEvent[];
      return placementFromProfile(events, ioBytes);
    },
    remove,
  };
}
