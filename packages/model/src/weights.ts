/**
 * Weights by name: official-layout weight files (a converted UniAS checkpoint, or the backbone and
 * head separately) bound to a graph's parameters.
 */
import { readWeightFile } from '@unias/backbones';
import { checkWeights, initParams, type Graph, type ParamStore, type TensorData } from '@unias/graph';

/**
 * Float tensors (as float32) of one or more weight files, by name, each read by @unias/backbones'
 * `readWeightFile` (safetensors, PyTorch checkpoints, ONNX; kind by extension). The batch counters
 * (`num_batches_tracked`) are left out; a name found in two files is an error naming both.
 */
export async function readWeightFiles(paths: readonly string[]): Promise<Map<string, TensorData>> {
  const out = new Map<string, TensorData>();
  const from = new Map<string, string>();
  for (const path of paths) {
    const file = await readWeightFile(path);
    for (const [name, t] of file.tensors) {
      const seen = from.get(name);
      if (seen) throw new Error(`weight "${name}" is in both ${seen} and ${path}`);
      out.set(name, t);
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
