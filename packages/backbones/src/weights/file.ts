/**
 * The one reader of a weight file: its kind (by extension), its float tensors as float32 (renamed
 * on the way in), its batch-norm counters apart, and its metadata (safetensors `__metadata__`, ONNX
 * `metadata_props`). `importWeights`, the model's `readWeightFiles`, the exporters' `loadModelFiles`
 * and the engine's weights all read files through it.
 */
import { extname } from 'node:path';
import { readSafetensorsFile, type SafetensorsFile } from '@unias/graph';
import { checkpointAsSafetensors, isTorchCheckpointPath, readTorchCheckpointFile } from '@unias/torch-checkpoint';
import type { WeightMap } from './names.js';
import { readOnnxModel, weightsFromOnnxModel } from './onnx.js';
import { readSafetensorsWeights, type BatchCounter } from './safetensors.js';
import { readTfjsLayersFiles, weightsFromTfjsLayers } from './tfjs-layers.js';
import type { TorchImportOptions } from './torch-checkpoint.js';

export const WEIGHT_FILE_KINDS = ['safetensors', 'onnx', 'tfjs-layers', 'torch-checkpoint'] as const;
export type WeightFileKind = (typeof WEIGHT_FILE_KINDS)[number];

/** A file's kind by its name: `.safetensors`, `.onnx`, a tfjs layers `model.json` (`.json`), a PyTorch checkpoint (`.pth`, `.pt`, `.pth.tar`); undefined for others. */
export function weightFileKind(path: string): WeightFileKind | undefined {
  if (isTorchCheckpointPath(path)) return 'torch-checkpoint';
  switch (extname(path).toLowerCase()) {
    case '.safetensors':
      return 'safetensors';
    case '.onnx':
      return 'onnx';
    case '.json':
      return 'tfjs-layers';
    default:
      return undefined;
  }
}

export interface ReadWeightFileOptions extends TorchImportOptions {
  /** Read the file as this kind whatever its name (default: by its name; an unknown name is an error). */
  readonly kind?: WeightFileKind;
}

export interface WeightFile {
  /** The path read (a PyTorch checkpoint: how @unias/torch-checkpoint names it). */
  readonly source: string;
  readonly kind: WeightFileKind;
  /** safetensors `__metadata__`, ONNX `metadata_props`; `{ format: 'pt' }` for a PyTorch checkpoint, `{}` for tfjs. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Float tensors as float32, renamed (integer ones are no weights: refused in safetensors and checkpoints, skipped in ONNX). */
  readonly tensors: WeightMap;
  /** `*.num_batches_tracked` counters (safetensors and PyTorch), renamed, not among `tensors` unless `keepBatchCounters`. */
  readonly counters: ReadonlyMap<string, BatchCounter>;
}

function fromSafetensors(file: SafetensorsFile, source: string, kind: WeightFileKind, options: ReadWeightFileOptions): WeightFile {
  const { tensors, counters } = readSafetensorsWeights(file, source, options);
  return { source, kind, metadata: file.metadata, tensors, counters };
}

/** Reads one weight file (see the module comment); errors name the file and the tensor. */
export async function readWeightFile(path: string, options: ReadWeightFileOptions = {}): Promise<WeightFile> {
  const kind = options.kind ?? weightFileKind(path);
  switch (kind) {
    case 'safetensors':
      return fromSafetensors(await readSafetensorsFile(path), path, kind, options);
    case 'torch-checkpoint': {
      const ckpt = await readTorchCheckpointFile(path, options);
      return fromSafetensors(checkpointAsSafetensors(ckpt), ckpt.source, kind, options);
    }
    case 'onnx': {
      const { model, label } = await readOnnxModel(path);
      const metadata: Record<string, string> = {};
      for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
      return { source: label, kind, metadata, tensors: weightsFromOnnxModel(model, label, options), counters: new Map() };
    }
    case 'tfjs-layers': {
      const { model, weightData } = await readTfjsLayersFiles(path);
      return { source: path, kind, metadata: {}, tensors: weightsFromTfjsLayers(model, weightData, path, options), counters: new Map() };
    }
    default:
      throw new Error(`${path}: unknown weights file type "${extname(path)}" (expected .safetensors, .onnx, .pth / .pt / .pth.tar or a tfjs model.json)`);
  }
}
