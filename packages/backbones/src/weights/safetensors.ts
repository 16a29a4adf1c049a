/** Weights from safetensors files (F32 / F16 / BF16 / F64, as float32), renamed on the way in. */
import { decodeSafetensors, entryToFloat32, readSafetensorsFile, type SafetensorsFile } from '@unias/graph';
import { WeightCollector, type ImportOptions, type WeightMap } from './names.js';

export interface SafetensorsImportOptions extends ImportOptions {
  /**
   * Keep PyTorch's `*.num_batches_tracked` counters (default false: dropped, they are
   * batch-norm bookkeeping that inference never reads).
   */
  readonly keepBatchCounters?: boolean;
}

const FLOAT_TYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

export function weightsFromSafetensors(file: SafetensorsFile, source: string, options: SafetensorsImportOptions = {}): WeightMap {
  const collector = new WeightCollector(source, options);
  for (const entry of file.tensors.values()) {
    if (!options.keepBatchCounters && entry.name.endsWith('num_batches_tracked')) continue;
    if (!FLOAT_TYPES.has(entry.dtype)) {
      throw new Error(`${source}: tensor "${entry.name}" is ${entry.dtype}; weights must be F32, F16, BF16 or F64`);
    }
    collector.add(entry.name, () => ({ dtype: 'float32', shape: [...entry.shape], data: entryToFloat32(entry) }));
  }
  return collector.weights;
}

/** Reads a safetensors file (a path) or its bytes. */
export async function importSafetensors(source: string | Uint8Array, options: SafetensorsImportOptions = {}): Promise<WeightMap> {
  if (typeof source === 'string') return weightsFromSafetensors(await readSafetensorsFile(source), source, options);
  return weightsFromSafetensors(decodeSafetensors(source, 'safetensors bytes'), 'safetensors bytes', options);
}
