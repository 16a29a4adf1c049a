/**
 * A trained model on disk: one safetensors file in @unias/exporters' "unias" layout (every
 * parameter of the inference pipeline under its graph name, with the model configuration, preset,
 * thresholds and classes in `__metadata__`), reloadable from the file alone. A run directory holds
 * it as `model.safetensors`; anything that takes `--model` accepts the run directory, such a file,
 * or an exported ONNX file.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadModelFiles, writeSafetensorsExport, type LoadedModel, type Thresholds } from '@unias/exporters';
import { resolveConfig, type ModelConfig, type ResolvedConfig } from '@unias/model';
import type { TensorData } from '@unias/graph';
import { DetectorInputError } from './errors.js';

export const MODEL_FILE = 'model.safetensors';

export interface StoredThresholds {
  /** Image score at or above which an image is labelled anomalous. */
  readonly image: number | null;
  /** Pixel score at or above which a pixel is in the mask. */
  readonly pixel: number | null;
  /** How they were chosen. */
  readonly source: string | null;
}

export interface StoredModel {
  readonly path: string;
  readonly preset: string;
  readonly config: ResolvedConfig;
  readonly modelConfig: ModelConfig;
  readonly classes: readonly string[];
  readonly thresholds: StoredThresholds;
  /** Every parameter of the inference graph. */
  readonly params: ReadonlyMap<string, TensorData>;
  readonly loaded: LoadedModel;
}

export function toExportThresholds(t: StoredThresholds): Thresholds {
  return {
    ...(t.image !== null ? { image: t.image } : {}),
    ...(t.pixel !== null ? { pixel: t.pixel } : {}),
    ...(t.source !== null ? { source: t.source } : {}),
  };
}

export function fromExportThresholds(t: Thresholds | undefined): StoredThresholds {
  return { image: t?.image ?? null, pixel: t?.pixel ?? null, source: t?.source ?? null };
}

export async function saveModel(
  path: string,
  o: { preset: string; config: ModelConfig; params: ReadonlyMap<string, TensorData>; classes: readonly string[]; thresholds: StoredThresholds },
): Promise<void> {
  await writeSafetensorsExport({
    model: { config: o.config, params: o.params, preset: o.preset, classes: o.classes, thresholds: toExportThresholds(o.thresholds) },
    out: path,
    layout: 'unias',
  });
}

/** The model file for a run directory or a file; null when there is none. */
export async function modelFileOf(path: string): Promise<string | null> {
  const p = resolve(path);
  const st = await stat(p).catch(() => null);
  if (!st) return null;
  if (st.isFile()) return p.toLowerCase().endsWith('.safetensors') ? p : null;
  const inRun = join(p, MODEL_FILE);
  return (await stat(inRun).catch(() => null))?.isFile() ? inRun : null;
}

export async function loadStoredModel(path: string): Promise<StoredModel> {
  const file = await modelFileOf(path);
  if (!file) throw new DetectorInputError(`${path}: no UniAS model here (expected a run directory with ${MODEL_FILE}, a .safetensors model or an .onnx file)`);
  let loaded: LoadedModel;
  try {
    loaded = await loadModelFiles([file]);
  } catch (e) {
    throw new DetectorInputError((e as Error).message.split('\n')[0]!);
  }
  let config: ResolvedConfig;
  try {
    config = resolveConfig(loaded.config);
  } catch (e) {
    throw new DetectorInputError(`${file}: ${(e as Error).message}`);
  }
  return {
    path: file,
    preset: loaded.preset ?? 'custom',
    config,
    modelConfig: loaded.config,
    classes: loaded.classes ?? [],
    thresholds: fromExportThresholds(loaded.thresholds),
    params: loaded.params,
    loaded,
  };
}

/** Rewrites the model file with new thresholds (atomic). */
export async function updateThresholds(path: string, thresholds: StoredThresholds): Promise<void> {
  const m = await loadStoredModel(path);
  await writeSafetensorsExport({ model: m.loaded, out: m.path, layout: 'unias', metadata: { thresholds: toExportThresholds(thresholds) } });
}
