/**
 * Weights from PyTorch checkpoints (`.pth`, `.pt`, `ckpt.pth.tar`) read without Python by
 * @unias/torch-checkpoint: the state_dict goes through the safetensors importer, so names, dtype
 * conversion and dropped `num_batches_tracked` are exactly as for the same weights in safetensors.
 */
import { checkpointAsSafetensors, readTorchCheckpoint, readTorchCheckpointFile, type ReadTorchCheckpointOptions } from '@unias/torch-checkpoint';
import { weightsFromSafetensors, type SafetensorsImportOptions } from './safetensors.js';
import type { WeightMap } from './names.js';

export interface TorchImportOptions extends SafetensorsImportOptions, Omit<ReadTorchCheckpointOptions, 'source'> {}

/** Reads a checkpoint (a path) or its bytes; the state_dict is found as @unias/torch-checkpoint finds it. */
export async function importTorchCheckpoint(source: string | Uint8Array, options: TorchImportOptions = {}): Promise<WeightMap> {
  const ckpt =
    typeof source === 'string'
      ? await readTorchCheckpointFile(source, options)
      : readTorchCheckpoint(source, { ...options, source: 'PyTorch checkpoint bytes' });
  return weightsFromSafetensors(checkpointAsSafetensors(ckpt), ckpt.source, options);
}
