/**
 * A configuration's parameter sets: what the inference pipeline needs (pruned graph), what the
 * whole model may hold (every backbone and head parameter, classifier included) and the
 * `num_batches_tracked` buffers of the official layout; and one check of a set of tensors against
 * them that names every missing, misshaped and unexpected tensor and the file it came from.
 */
import { formatShape, shapesEqual, type Graph, type Shape } from '@unias/graph';
import { buildFullGraph, buildInferenceGraph, extraStateDictKeys, resolveConfig, type ModelConfig, type ResolvedConfig } from '@unias/model';
import { ExportError } from './errors.js';

export interface ModelGraphs {
  readonly config: ModelConfig;
  readonly resolved: ResolvedConfig;
  /** image -> anomaly_map, score (pruned: only what the taps use). */
  readonly inference: Graph;
  /** Every parameter of the model, unpruned. */
  readonly full: Graph;
  /** `num_batches_tracked` keys of the official state_dict (none for Keras-layout backbones). */
  readonly buffers: readonly string[];
}

export function modelGraphs(config: ModelConfig, where = 'model config'): ModelGraphs {
  let resolved: ResolvedConfig;
  try {
    resolved = resolveConfig(config);
  } catch (e) {
    throw new ExportError(`${where}: ${(e as Error).message}`);
  }
  const full = buildFullGraph(resolved);
  return {
    config,
    resolved,
    inference: buildInferenceGraph(resolved),
    full,
    buffers: extraStateDictKeys(full, resolved.backbone.weightLayout),
  };
}

/** "preset small, efficientnet-b4, 224x224": how errors name the model. */
export function describeModel(g: ModelGraphs, preset?: string): string {
  return `${preset ? `preset ${preset}, ` : ''}backbone ${g.resolved.backbone.id}, ${g.resolved.inputSize[0]}x${g.resolved.inputSize[1]}`;
}

export interface TensorCheckOptions {
  /** The file a tensor came from, for the messages. */
  readonly sourceOf?: (name: string) => string | undefined;
  /** All files read (to say that none holds a missing tensor). */
  readonly sources?: readonly string[];
  /** How the model is named in the message (see describeModel). */
  readonly model?: string;
}

function listed(what: string, items: readonly string[]): string {
  const shown = items.slice(0, 8).join(', ');
  return `${items.length} ${what}: ${shown}${items.length > 8 ? `, ... (${items.length - 8} more)` : ''}`;
}

/**
 * Checks tensors (by name and shape) against the model: every parameter of the inference graph
 * must be present with its shape; other parameters of the whole model (a backbone's unused
 * blocks, its classifier) may be present or absent; anything else is unexpected. One error lists
 * every problem.
 */
export function checkTensors(g: ModelGraphs, tensors: ReadonlyMap<string, { readonly shape: Shape }>, o: TensorCheckOptions = {}): void {
  const missing: string[] = [];
  for (const p of g.inference.params.values()) if (!tensors.has(p.name)) missing.push(p.name);
  const misshaped: Entry[] = [];
  const unexpected: Entry[] = [];
  for (const [name, t] of tensors) {
    const p = g.full.params.get(name);
    const source = o.sourceOf?.(name);
    if (!p) unexpected.push({ text: name, source });
    else if (!shapesEqual(p.shape, t.shape)) misshaped.push({ text: `${name} (${formatShape(t.shape)}, model ${formatShape(p.shape)})`, source });
  }
  if (missing.length + misshaped.length + unexpected.length === 0) return;
  const parts: string[] = [];
  if (missing.length > 0) {
    // A whole part missing usually means a file was left out.
    const all = (prefix: string) => {
      const needed = [...g.inference.params.keys()].filter((n) => n.startsWith(prefix));
      return needed.length > 0 && needed.every((n) => !tensors.has(n));
    };
    let hint = '';
    if (all('backbone.')) hint = ' (all the backbone weights are missing: add the backbone file)';
    else if (all('sem_seg_head.')) hint = ' (all the head weights are missing: add the head file)';
    const none = o.sources && o.sources.length > 0 ? `; not in ${o.sources.join(', ')}` : '';
    parts.push(`${listed('missing', missing)}${hint}${none}`);
  }
  if (misshaped.length > 0) {
    // The query embeddings (and the channel attentions over query positions) are sized by the input.
    const queryKey = 'sem_seg_head.predictor.spatial_query_embed.weight';
    const queries = [tensors.get(queryKey)?.shape[0], g.full.params.get(queryKey)?.shape[0]];
    const grid =
      queries[0] !== undefined && queries[1] !== undefined && queries[0] !== queries[1]
        ? ` (the head's query grid is fixed by the input size, ${g.resolved.grid[0]}x${g.resolved.grid[1]} here: use the inputSize the weights were trained at)`
        : '';
    parts.push(`${bySource('misshaped', misshaped)}${grid}`);
  }
  if (unexpected.length > 0) parts.push(`${bySource('unexpected', unexpected)} (no such parameter in this model)`);
  throw new ExportError(`weights do not fit the model${o.model ? ` (${o.model})` : ''}: ${parts.join('; ')}`);
}

interface Entry {
  readonly text: string;
  readonly source: string | undefined;
}

/** "3 misshaped: in a.safetensors: x (...), y (...); in b.safetensors: z (...)" (the first 8 in all). */
function bySource(what: string, entries: readonly Entry[]): string {
  const groups = new Map<string, string[]>();
  for (const e of entries.slice(0, 8)) {
    const key = e.source ?? '';
    groups.set(key, [...(groups.get(key) ?? []), e.text]);
  }
  const text = [...groups].map(([source, items]) => `${source ? `in ${source}: ` : ''}${items.join(', ')}`).join('; ');
  return `${entries.length} ${what}: ${text}${entries.length > 8 ? `, ... (${entries.length - 8} more)` : ''}`;
}
