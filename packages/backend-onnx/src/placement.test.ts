import { describe, expect, it } from 'vitest';
import { formatPlacement, placementFromProfile } from './placement.js';

const node = (name: string, provider: string, op: string, outputSize = 0) => [
  { cat: 'Node', name: `${name}_fence_before`, args: { provider, op_name: op } },
  { cat: 'Node', name: `${name}_kernel_time`, args: { provider, op_name: op, output_size: String(outputSize) } },
  { cat: 'Node', name: `${name}_fence_after`, args: { provider, op_name: op } },
];

describe('placementFromProfile', () => {
  it('counts each node once per provider, lists CPU fallbacks and adds up copies', () => {
    const events = [
      { cat: 'Session', name: 'model_loading_array' },
      ...node('conv', 'WebGpuExecutionProvider', 'Conv', 4096),
      ...node('up', 'WebGpuExecutionProvider', 'MatMul', 1024),
      ...node('shape', 'CPUExecutionProvider', 'Shape', 32),
      ...node('gather', 'CPUExecutionProvider', 'Gather', 8),
      ...node('shape2', 'CPUExecutionProvider', 'Shape', 32),
      ...node('copy_in', 'WebGpuExecutionProvider', 'MemcpyFromHost', 100),
      ...node('copy_out', 'CPUExecutionProvider', 'MemcpyToHost', 60),
    ];
    const r = placementFromProfile(events, 1000);
    expect(r).toEqual({
      nodes: { WebGpuExecutionProvider: 3, CPUExecutionProvider: 4 },
      cpuOps: { Shape: 2, Gather: 1, MemcpyToHost: 1 },
      memcpyBytes: 160,
      ioBytes: 1000,
      copiedBytes: 1160,
    });
    expect(formatPlacement(r)).toBe(
      '4 nodes on CPUExecutionProvider (Shape x2, Gather x1, MemcpyToHost x1), 3 on WebGpuExecutionProvider; 0.001 MB copied between host and device per run (0.001 MB feeds and fetches, 0.000 MB inside the graph)',
    );
  });

  it('copies nothing when every node ran on the CPU', () => {
    const r = placementFromProfile([...node('conv', 'CPUExecutionProvider', 'Conv', 64)], 500);
    expect(r).toMatchObject({ nodes: { CPUExecutionProvider: 1 }, cpuOps: {}, copiedBytes: 0 });
  });
});
