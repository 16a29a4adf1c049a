/**
 * Weights by name: official-layout safetensors files (a converted UniAS checkpoint, or the
 * backbone and head separately) bound to a graph's parameters.
 */
import { checkWeights, entryToTensor, initParams, readSafetensorsFile, type Graph, type ParamStore, type TensorData } from '@unias/graph';

/**
 * Float tensors of one or more safetensors files, by name. Integer buffers (`num_batches_tracked`)
 * are skipped; a name found in two files is an error naming both.
 */
export async function readWeightFiles(paths: readonly string[]): Promise<Map<string, TensorData>> {
  const out = new Map<string, TensorData>();
  const from = new Map<string, string>();
  for (const path of paths) {
    const file = await readSafetensorsFile(path);
    for (const [name, entry] of file.tensors) {
      if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) continue;
      const seen = from.get(name);
      if (seen) throw new Error(`weight "${name}" is in both ${seen} and ${path}`);
      out.set(name, entryToTensor(entry));
      from.set(name, path);
    }
  }
  return out;
}

export interface BindOptions {
  /** Parameters that may be absent and keep their initialiser (e.g. a head trained from scratch). */
  readonly allowMissing?: (name: string) => boolean;
  /** Seed of the initialisers of absent parameters. Default 0. */
  readonly seed?: number;
}

/**
 * Values for every parameter of the graph from `weights` (checked: one error lists every missing
 * or misshaped tensor). Extra tensors are fine: a full checkpoint holds backbone layers a pruned
 * graph does not use.
 */
export function bindWeights(graph: Graph, weights: ReadonlyMap<string, TensorData>, options: BindOptions = {}): ParamStore {
  checkWeights(graph, weights, { allowExtra: true, ...(options.allowMissing ? { allowMissing: options.allowMissing } : {}) });
  return initParams(graph, options.seed ?? 0, weights);
}
