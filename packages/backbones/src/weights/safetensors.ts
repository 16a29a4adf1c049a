/** Weights from safetensors files (F32 / F16 / BF16 / F64, as float32), renamed on the way in. */
import { decodeSafetensors, entryToFloat32, entryToNumbers, readSafetensorsFile, type SafetensorsFile } from '@unias/graph';
import { WeightCollector, mapName, type ImportOptions, type WeightMap } from './names.js';

export interface SafetensorsImportOptions extends ImportOptions {
  /**
   * Keep PyTorch's `*.num_batches_tracked` counters among the weights (default false: they are
   * batch-norm bookkeeping that inference never reads; readWeightFile gives them apart, as `counters`).
   */
  readonly keepBatchCounters?: boolean;
}

/** A batch norm's `num_batches_tracked` counter as the file holds it (PyTorch: an int64 scalar). */
export interface BatchCounter {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Its value when it holds one number. */
  readonly value?: number;
}

const FLOAT_TYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

export function isBatchCounterName(name: string): boolean {
  return name.endsWith('num_batches_tracked');
}

/** The float tensors (renamed, as float32) and the batch-norm counters (renamed) of a safetensors file; any other tensor is an error naming it. */
export function readSafetensorsWeights(
  file: SafetensorsFile,
  source: string,
  options: SafetensorsImportOptions = {},
): { tensors: WeightMap; counters: Map<string, BatchCounter> } {
  const collector = new WeightCollector(source, options);
  const counters = new Map<string, BatchCounter>();
  for (const entry of file.tensors.values()) {
    if (isBatchCounterName(entry.name)) {
      const name = mapName(entry.name, options);
      if (name !== null) {
        const one = entry.shape.reduce((a, d) => a * d, 1) === 1;
        counters.set(name, { dtype: entry.dtype, shape: [...entry.shape], ...(one ? { value: entryToNumbers(entry)[0]! } : {}) });
      }
      if (!options.keepBatchCounters) continue;
    }
    if (!FLOAT_TYPES.has(entry.dtype)) {
      throw new Error(`${source}: tensor "${entry.name}" is ${entry.dtype}; weights must be F32, F16, BF16 or F64`);
    }
    collector.add(entry.name, () => ({ dtype: 'float32', shape: [...entry.shape], data: entryToFloat32(entry) }));
  }
  return { tensors: collector.weights, counters };
}

export function weightsFromSafetensors(file: SafetensorsFile, source: string, options: SafetensorsImportOptions = {}): WeightMap {
  return readSafetensorsWeights(file, source, options).tensors;
}

/** Reads a safetensors file (a path) or its bytes. */
export async function importSafetensors(source: string | Uint8Array, options: SafetensorsImportOptions = {}): Promise<WeightMap> {
  if (typeof source === 'string') return weightsFromSafetensors(await readSafetensorsFile(source), source, options);
  return weightsFromSafetensors(decodeSafetensors(source, 'safetensors bytes'), 'safetensors bytes', options);
}
