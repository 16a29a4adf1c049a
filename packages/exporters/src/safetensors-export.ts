/**
 * Weights as safetensors, in two layouts:
 * - `official`: the official PyTorch state_dict keys (`backbone.*`, `sem_seg_head.*`) plus the
 *   `num_batches_tracked` int64 scalars PyTorch keeps beside each batch norm, so the file loads
 *   into the official code (`load_state_dict(strict=True)` when every key is present);
 * - `unias`: this project's parameter names with the configuration, preset, backbone, thresholds
 *   and classes as JSON in `__metadata__`, so `loadModelFiles` rebuilds the model from the file alone;
 *   with a CRC-32 of every tensor and of the header (`unias.crc32`), verified on every read.
 */
import { encodeSafetensors, writeFileAtomic, type TensorToWrite } from '@unias/graph';
import { uniasModelMetadata } from './contract.js';
import { ExportError } from './errors.js';
import { checkInfo, mergeInfo, type ExportableModel, type ModelInfo } from './model-info.js';
import { checkTensors, describeModel, modelGraphs, type ModelGraphs } from './model-check.js';
import { prepareOutputFile } from './out-path.js';
import { stepper, type ProgressCallback } from './progress.js';

export const SAFETENSORS_LAYOUTS = ['official', 'unias'] as const;
export type SafetensorsLayout = (typeof SAFETENSORS_LAYOUTS)[number];

export const WEIGHT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type WeightDType = (typeof WEIGHT_DTYPES)[number];

/** The unias layout's `__metadata__` (format and keys) is part of the exported-model contract. */
export { UNIAS_METADATA_KEYS, UNIAS_MODEL_FORMAT } from './contract.js';

export interface SafetensorsContent {
  readonly tensors: Record<string, TensorToWrite>;
  readonly metadata: Record<string, string>;
  /** Official keys the model holds no value for (the pruned backbone's unused blocks and classifier). */
  readonly missing: readonly string[];
}

function checkDType(dtype: string): asserts dtype is WeightDType {
  if (!(WEIGHT_DTYPES as readonly string[]).includes(dtype))
    throw new ExportError(`safetensors: dtype must be one of ${WEIGHT_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
}

/** Official state_dict tensors the model has values for, in the official key names, with the int64 buffers. */
export function officialContent(model: ExportableModel, g: ModelGraphs, dtype: WeightDType = 'F32'): SafetensorsContent {
  checkDType(dtype);
  const tensors: Record<string, TensorToWrite> = {};
  const missing: string[] = [];
  for (const p of g.full.params.values()) {
    const t = model.params.get(p.name);
    if (t) tensors[p.name] = { shape: t.shape, data: t.data, dtype };
    else missing.push(p.name);
  }
  for (const key of g.buffers) {
    const bn = key.slice(0, -'num_batches_tracked'.length);
    // A buffer goes with its batch norm: written when the norm's statistics are.
    if (model.params.has(`${bn}running_mean`)) tensors[key] = { shape: [], data: [model.buffers?.get(key) ?? 0], dtype: 'I64' };
    else missing.push(key);
  }
  const metadata = { format: 'pt', layout: 'official UniAS state_dict', source: 'UniAS.ts @unias/exporters' };
  return { tensors, metadata, missing };
}

/** This project's names with the model's configuration and info in `__metadata__`. */
export function uniasContent(model: ExportableModel, g: ModelGraphs, info: ModelInfo, dtype: WeightDType = 'F32'): SafetensorsContent {
  checkDType(dtype);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of model.params) tensors[name] = { shape: t.shape, data: t.data, dtype };
  const metadata = uniasModelMetadata(g.config, g.resolved, info);
  const missing = [...g.full.params.keys()].filter((n) => !model.params.has(n));
  return { tensors, metadata, missing };
}

export interface SafetensorsExportOptions {
  readonly model: ExportableModel;
  readonly metadata?: ModelInfo;
  /** The .safetensors file (written atomically; its folder is created). */
  readonly out: string;
  /** Default 'unias'. */
  readonly layout?: SafetensorsLayout;
  /** Float tensors as F32 (default), F16 or BF16 (round to nearest even). */
  readonly dtype?: WeightDType;
  /**
   * Official layout: refuse to write unless every state_dict key has a value (so that
   * `strict=True` loading works). Default false: what the model holds is written, the rest listed in `missing`.
   */
  readonly requireComplete?: boolean;
  readonly onProgress?: ProgressCallback;
}

export interface SafetensorsExport {
  readonly path: string;
  readonly layout: SafetensorsLayout;
  readonly tensors: number;
  readonly bytes: number;
  readonly missing: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

export async function writeSafetensorsExport(o: SafetensorsExportOptions): Promise<SafetensorsExport> {
  const layout = o.layout ?? 'unias';
  if (!(SAFETENSORS_LAYOUTS as readonly string[]).includes(layout)) {
    throw new ExportError(`safetensors: unknown layout ${JSON.stringify(layout)}; known: ${SAFETENSORS_LAYOUTS.join(', ')}`);
  }
  const dtype = o.dtype ?? 'F32';
  checkDType(dtype);
  const step = stepper(3, o.onProgress);
  const info = mergeInfo(o.model, o.metadata);
  checkInfo(info);
  step('checking the weights against the model');
  const g = modelGraphs(o.model.config);
  checkTensors(g, o.model.params, { model: describeModel(g, info.preset) });
  await prepareOutputFile(o.out);
  const content = layout === 'official' ? officialContent(o.model, g, dtype) : uniasContent(o.model, g, info, dtype);
  if (layout === 'official' && o.requireComplete && content.missing.length > 0) {
    throw new ExportError(
      `safetensors (official layout): ${content.missing.length} state_dict keys have no value, e.g. ${content.missing.slice(0, 4).join(', ')}; ` +
        'the model holds only what the inference pipeline uses: load the full backbone weights to write a complete state_dict',
    );
  }
  step(`encoding ${Object.keys(content.tensors).length} tensors (${layout} layout, ${dtype})`);
  // unias-layout files are this project's model files: checksummed, so damage is refused by name
  const bytes = encodeSafetensors(content.tensors, content.metadata, { checksums: layout === 'unias' });
  step(`writing ${o.out} (${(bytes.byteLength / 1e6).toFixed(1)} MB)`);
  await writeFileAtomic(o.out, bytes);
  return { path: o.out, layout, tensors: Object.keys(content.tensors).length, bytes: bytes.byteLength, missing: content.missing, metadata: content.metadata };
}
