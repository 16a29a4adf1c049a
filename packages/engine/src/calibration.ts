/**
 * Calibration images for `unias export --precision int8`: normal (good) images of the training split
 * only. Test images would leak the evaluation into the model, and defective ones would stretch the
 * activation ranges towards what the model must flag.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage, type Dataset, type Sample } from '@unias/datasets';
import { EngineInputError } from './errors.js';
import { loadData } from './data.js';

/** `count` normal training samples, spread evenly over the (path-sorted) list so every class is seen. */
export function calibrationSamples(dataset: Dataset, count: number): Sample[] {
  const normal = dataset.samples.filter((s) => s.split === 'train' && s.label === 0).sort((a, b) => a.path.localeCompare(b.path));
  if (normal.length === 0) throw new EngineInputError(`no normal training images (train/good) in ${dataset.roots.join(', ')} to calibrate on`);
  const n = Math.min(count, normal.length);
  return Array.from({ length: n }, (_, i) => normal[Math.floor((i * normal.length) / n)]!);
}

export interface CalibrationSet {
  readonly images: Float32Array[];
  readonly paths: string[];
  /** For the metadata: the roots and what was taken from them. */
  readonly source: string;
}

/** Decodes the calibration images at the model's input size (the decode every other path uses). */
export async function loadCalibrationSet(roots: readonly string[], count: number, [h, w]: readonly [number, number]): Promise<CalibrationSet> {
  const { dataset } = await loadData({ roots, format: 'auto', classes: null });
  const picked = calibrationSamples(dataset, count);
  const images = await Promise.all(picked.map(async (s) => (await decodeImage(s.path, { size: { width: w, height: h } })).data));
  return { images, paths: picked.map((s) => s.path), source: `${picked.length} train/good images of ${dataset.roots.join(', ')}` };
}

/** The dataset roots a run directory was trained on (its run.json), or null. */
export async function runDataRoots(runDir: string): Promise<string[] | null> {
  const text = await readFile(join(runDir, 'run.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const roots = (JSON.parse(text) as { settings?: { data?: { roots?: unknown } } }).settings?.data?.roots;
    return Array.isArray(roots) && roots.every((r) => typeof r === 'string') && roots.length > 0 ? roots : null;
  } catch {
    throw new EngineInputError(`${join(runDir, 'run.json')}: not valid JSON`);
  }
}
