/**
 * The engine reads weight files through @unias/backbones' readWeightFile and knows
 * @unias/training's checkpoint format: a checkpoint written by saveTrainingState gives the same
 * backbone and head as the official-layout file of the same params (the optimizer state left out).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initParams, writeSafetensorsFile, type TensorData } from '@unias/graph';
import { buildInferenceGraph, presetConfig, resolveConfig } from '@unias/model';
import { saveTrainingState } from '@unias/training';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelWeights } from './weights.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-engine-weights-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadModelWeights', () => {
  it('a training checkpoint loads as the official-layout file of the same params', async () => {
    const config = resolveConfig(presetConfig('cpu'));
    const params = new Map<string, TensorData>(
      [...initParams(buildInferenceGraph(config), 5)].map(([k, t]) => [
        k,
        { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as ArrayLike<number>) },
      ]),
    );
    const official = join(dir, 'official.safetensors');
    await writeSafetensorsFile(official, Object.fromEntries([...params].map(([k, t]) => [k, { shape: t.shape, data: t.data }])));
    const ckpt = join(dir, 'ckpt.safetensors');
    const optimizer = new Map([...params].map(([k, t]) => [`adamw.exp_avg.${k}`, { ...t, data: new Float32Array(t.data.length) }]));
    await saveTrainingState(ckpt, { step: 3, params, optimizer, rng: { s: [1, 2, 3, 4], spare: null } });

    const a = await loadModelWeights(config, { files: [official] });
    const b = await loadModelWeights(config, { files: [ckpt] });
    expect(b.backboneHash).toBe(a.backboneHash);
    expect([...b.head.keys()].sort()).toEqual([...a.head.keys()].sort());
    expect(b.head.size).toBeGreaterThan(0);
    for (const [k, t] of a.head) expect(Array.from(b.head.get(k)!.data), k).toEqual(Array.from(t.data));
  });
});
