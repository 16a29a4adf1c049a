/**
 * Export of a trained model: the exporters do the work; the engine finds the model file of a run
 * directory and, for an INT8 export, the calibration images the run was trained on (normal training
 * images only), which the exporters cannot know.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { modelFileOf } from '@unias/detector';
import { exportModel as writeExport, loadModelFiles, type ExportModelOptions, type ExportResult } from '@unias/exporters';
import { resolveConfig } from '@unias/model';
import { loadCalibrationSet, runDataRoots } from './calibration.js';
import { EngineInputError } from './errors.js';

/** Calibration images taken when an INT8 export is given none. */
export const DEFAULT_CALIBRATION_IMAGES = 32;

export interface ExportRunOptions extends Omit<ExportModelOptions, 'model'> {
  /** INT8 without `calibration`: dataset roots to take normal training images from (default: the run's own). */
  readonly calibrationData?: readonly string[];
  readonly calibrationImages?: number;
}

/** Exports the model of a run directory or a unias `model.safetensors` to `options.format` in `options.out`. */
export async function exportModel(model: string, options: ExportRunOptions): Promise<ExportResult> {
  const { calibrationData, calibrationImages, ...rest } = options;
  const file = await modelFileOf(model);
  if (!file) throw new EngineInputError(`${model}: no UniAS model here (expected a run directory with model.safetensors, or a .safetensors model)`);
  const loaded = await loadModelFiles([file]);
  let calibration = rest.calibration;
  if (rest.precision === 'int8' && !calibration) {
    let roots = calibrationData ?? [];
    if (roots.length === 0 && (await stat(model).catch(() => null))?.isDirectory()) roots = (await runDataRoots(resolve(model))) ?? [];
    if (roots.length === 0)
      throw new EngineInputError(
        `${model}: an INT8 export needs calibration images: give calibrationData (a dataset root), or a run directory whose run.json names its data`,
      );
    const set = await loadCalibrationSet(roots, calibrationImages ?? DEFAULT_CALIBRATION_IMAGES, resolveConfig(loaded.config).inputSize);
    calibration = { images: set.images, source: set.source };
  }
  return writeExport({ ...rest, model: loaded, ...(calibration ? { calibration } : {}) });
}
