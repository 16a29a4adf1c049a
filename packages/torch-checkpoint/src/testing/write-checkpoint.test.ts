import type { SafetensorsEntry } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { readTorchCheckpoint } from '../index.js';
import { writeTorchCheckpoint } from './index.js';

const f32 = (values: number[], shape: number[]) => ({ name: '', dtype: 'F32' as const, shape, bytes: new Uint8Array(new Float32Array(values).buffer) });

describe('writeTorchCheckpoint (test support)', () => {
  it('writes what the reader reads back, under a nested state_dict with the module. prefix', () => {
    const sd = new Map<string, SafetensorsEntry>([
      ['module.w', f32([1, 2, 3, 4, 5, 6], [2, 3])],
      ['module.n', { name: '', dtype: 'I64' as const, shape: [], bytes: new Uint8Array(new BigInt64Array([7n]).buffer) }],
    ]);
    const bytes = writeTorchCheckpoint({ epoch: 3, best_metric: 0.5, arch: { hidden: 64 }, state_dict: sd, optimizer: { state: {}, param_groups: [] } });
    const ckpt = readTorchCheckpoint(bytes, { strict: true });
    expect(ckpt.path).toEqual(['state_dict']);
    expect([...ckpt.tensors.keys()]).toEqual(['w', 'n']);
    expect(Array.from(new Float32Array(ckpt.tensors.get('w')!.bytes.slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ckpt.tensors.get('n')!.shape).toEqual([]);
  });
});
