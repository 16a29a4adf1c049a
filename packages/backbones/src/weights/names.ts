/** Renaming imported tensors to the graph's parameter names. */
import type { TensorData } from '@unias/graph';

/** Weights keyed by parameter name, as float32. */
export type WeightMap = Map<string, TensorData<'float32'>>;

/**
 * Renames tensors on import: a record maps a file name to a parameter name (names not in it are
 * kept); a function returns the new name, or null/undefined to drop the tensor.
 */
export type NameMap = Readonly<Record<string, string>> | ((name: string) => string | null | undefined);

export interface ImportOptions {
  /** Applied first, to every tensor name in the file. */
  readonly nameMap?: NameMap;
  /** Then removed from the start of names that have it (e.g. "backbone." or "module."). */
  readonly stripPrefix?: string;
  /** Then put in front of every name (e.g. "backbone." for a backbone inside a model scope). */
  readonly addPrefix?: string;
}

/** The final name of a file's tensor, or null if it is dropped. */
export function mapName(name: string, options: ImportOptions): string | null {
  let out: string | null | undefined = name;
  const map = options.nameMap;
  if (typeof map === 'function') out = map(name);
  else if (map && Object.prototype.hasOwnProperty.call(map, name)) out = map[name];
  if (out === null || out === undefined) return null;
  if (options.stripPrefix && out.startsWith(options.stripPrefix)) out = out.slice(options.stripPrefix.length);
  if (options.addPrefix) out = options.addPrefix + out;
  return out;
}

/** Collects renamed tensors; two file tensors landing on one name is an error naming both. */
export class WeightCollector {
  readonly weights: WeightMap = new Map();
  private readonly from = new Map<string, string>();

  constructor(
    private readonly source: string,
    private readonly options: ImportOptions,
  ) {}

  add(fileName: string, tensor: () => TensorData<'float32'>): void {
    const name = mapName(fileName, this.options);
    if (name === null) return;
    const earlier = this.from.get(name);
    if (earlier !== undefined) {
      throw new Error(`${this.source}: tensors "${earlier}" and "${fileName}" both map to "${name}"`);
    }
    this.from.set(name, fileName);
    this.weights.set(name, tensor());
  }
}

/** The same weights with `prefix` in front of every name (a backbone's weights inside a model scope). */
export function prefixWeights(weights: ReadonlyMap<string, TensorData<'float32'>>, prefix: string): WeightMap {
  const out: WeightMap = new Map();
  for (const [k, v] of weights) out.set(prefix + k, v);
  return out;
}
