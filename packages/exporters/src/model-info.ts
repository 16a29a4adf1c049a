/**
 * What an export needs: the configuration, the parameter values by name, and what is known about
 * the trained model (preset, thresholds, classes). `loadModelFiles` returns this shape, and every
 * exporter takes it.
 */
import type { TensorData } from '@unias/graph';
import type { ModelConfig } from '@unias/model';
import { ExportError } from './errors.js';

export interface Thresholds {
  /** Image-score threshold for the label "anomalous". */
  readonly image?: number;
  /** Pixel threshold for the binary mask. */
  readonly pixel?: number;
  /** How they were chosen, e.g. "quantile 0.99 of normal train scores". */
  readonly source?: string;
}

export interface ModelInfo {
  /** Preset the configuration came from (`paper`, `small`, `cpu`, ...); "custom" when absent. */
  readonly preset?: string;
  readonly thresholds?: Thresholds;
  /** Class names the model was trained on. */
  readonly classes?: readonly string[];
}

export interface ExportableModel extends ModelInfo {
  readonly config: ModelConfig;
  /** Parameter values by graph name (official names for PyTorch-layout backbones). */
  readonly params: ReadonlyMap<string, TensorData>;
  /**
   * `num_batches_tracked` values read from an official file, written back by the official layout
   * (absent ones are written as 0).
   */
  readonly buffers?: ReadonlyMap<string, number>;
}

/** The model's info with `override`'s fields on top (a field given as undefined does not erase). */
export function mergeInfo(base: ModelInfo, override: ModelInfo | undefined): ModelInfo {
  if (!override) return base;
  return {
    ...((override.preset ?? base.preset) ? { preset: override.preset ?? base.preset } : {}),
    ...((override.thresholds ?? base.thresholds) ? { thresholds: override.thresholds ?? base.thresholds } : {}),
    ...((override.classes ?? base.classes) ? { classes: override.classes ?? base.classes } : {}),
  };
}

/** Checks thresholds and class names up front, so a bad value fails before any file is written. */
export function checkInfo(info: ModelInfo, where = 'metadata'): void {
  if (info.preset !== undefined && (typeof info.preset !== 'string' || info.preset.trim() === '')) {
    throw new ExportError(`${where}: preset must be a non-empty string, got ${JSON.stringify(info.preset)}`);
  }
  const t = info.thresholds;
  if (t !== undefined) {
    for (const key of ['image', 'pixel'] as const) {
      const v = t[key];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) {
        throw new ExportError(`${where}: thresholds.${key} must be a finite number, got ${JSON.stringify(v)}`);
      }
    }
    if (t.source !== undefined && typeof t.source !== 'string') throw new ExportError(`${where}: thresholds.source must be a string`);
  }
  if (info.classes !== undefined) {
    if (!Array.isArray(info.classes)) throw new ExportError(`${where}: classes must be an array of names`);
    for (const c of info.classes) {
      if (typeof c !== 'string' || c.trim() === '') throw new ExportError(`${where}: class names must be non-empty strings, got ${JSON.stringify(c)}`);
      // The ONNX contract joins the names with commas.
      if (c.includes(',')) throw new ExportError(`${where}: class name ${JSON.stringify(c)} contains a comma (unias.classes is comma-separated)`);
    }
  }
}
