/**
 * Test support (`@unias/engine/testing`): a tiny synthetic dataset and the settings of a model small enough to train a few
 * steps in seconds (MobileNetV2 taps with bundled weights, a narrow head, 32x32 input).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticDataset } from '@unias/datasets';
import { resolveTrainSettings, type RawConfig, type TrainSettings } from '../settings/train-settings.js';

export async function tempDir(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `unias-engine-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Two classes (a texture and an object), 64x64 files, 8 normal training images each, 3 test images each. */
export async function tinyDataset(root: string): Promise<string> {
  await generateSyntheticDataset({
    root,
    size: 64,
    seed: 3,
    classes: ['fabric', 'washer'],
    counts: { train: 8, testGood: 2, testDefect: 1 },
    ifExists: 'reuse',
  });
  return root;
}

/** A model of a few hundred thousand parameters at 32x32: a 2x2 query grid, so no neighbour mask. */
export const TINY_MODEL = {
  inputSize: 32,
  convDim: 32,
  hidden: 16,
  maskDim: 8,
  dimFeedforward: 16,
  encoderLayers: 1,
  neighbourSize: 0,
} as const;

/** Settings of a tiny UniAS run of `steps` steps on `data`, written to `out`; `extra` is merged into each section. */
export function tinySettings(
  data: string,
  out: string,
  o: { steps: number; checkpointEvery?: number; cacheDir?: string; extra?: RawConfig } = { steps: 4 },
): TrainSettings {
  const raw: RawConfig = {
    preset: 'cpu',
    method: 'unias',
    model: { ...TINY_MODEL },
    data: { roots: [data] },
    train: { batchSize: 4, seed: 1, steps: o.steps, ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}) },
    output: { dir: out, logEvery: 1, evalEvery: 0, ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}) },
    ...o.extra,
  };
  return resolveTrainSettings(raw);
}
