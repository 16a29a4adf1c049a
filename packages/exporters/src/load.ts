/**
 * Weight files -> a model to export or run: `loadModelFiles(paths, { preset | config })` reads
 * one or more safetensors files (official layout, e.g. the backbone and the head separately;
 * unias layout, which carries its own configuration; or a training checkpoint) or PyTorch
 * checkpoints (`.pth`, `.pt`, the official `ckpt.pth.tar`: their state_dict, read as official-layout
 * safetensors by @unias/torch-checkpoint, so without Python), converts F16 /
 * BF16 / F64 to float32, keeps `num_batches_tracked` aside, and checks every tensor against the
 * configuration: one error names each missing, misshaped or unexpected tensor and its file.
 */
import { entryToFloat32, entryToNumbers, readSafetensorsFile, type SafetensorsEntry, type SafetensorsFile, type TensorData } from '@unias/graph';
import { isPresetName, PRESET_NAMES, presetConfig, type ModelConfig } from '@unias/model';
import { checkpointAsSafetensors, isTorchCheckpointPath, readTorchCheckpointFile } from '@unias/torch-checkpoint';
import { ExportError } from './errors.js';
import { checkInfo, type ExportableModel, type Thresholds } from './model-info.js';
import { checkTensors, describeModel, modelGraphs } from './model-check.js';
import { stepper, type ProgressCallback } from './progress.js';
import { UNIAS_METADATA_KEYS, UNIAS_MODEL_FORMAT } from './safetensors-export.js';

/** `__metadata__.format` of @unias/training checkpoints: params under their names, optimizer state under `optimizer.`. */
export const TRAINING_CHECKPOINT_FORMAT = 'unias-training-state/2';
/** The version before checksums, still read. */
const TRAINING_CHECKPOINT_FORMAT_V1 = 'unias-training-state/1';
const OPTIMIZER_PREFIX = 'optimizer.';

export type FileLayout = 'official' | 'unias' | 'training-checkpoint';

export interface LoadModelOptions {
  /** The configuration; needed unless a file carries one (unias layout); wins over a file's. */
  readonly config?: ModelConfig;
  /** Preset name: the configuration when `config` is absent (and no file has one); also recorded as the model's preset. */
  readonly preset?: string;
  /** Fields changed on top of the configuration, e.g. `{ backbone: 'efficientnet-b4', inputSize: 256 }`. */
  readonly overrides?: Partial<ModelConfig>;
  readonly onProgress?: ProgressCallback;
}

export interface LoadedFile {
  readonly path: string;
  readonly layout: FileLayout;
  /** Parameter tensors taken from it. */
  readonly tensors: number;
}

export interface LoadedModel extends ExportableModel {
  readonly params: Map<string, TensorData<'float32'>>;
  readonly buffers: Map<string, number>;
  readonly files: readonly LoadedFile[];
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
const INT_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U8']);

function layoutOf(file: SafetensorsFile): FileLayout {
  const format = file.metadata['format'];
  if (format === UNIAS_MODEL_FORMAT) return 'unias';
  if (format === TRAINING_CHECKPOINT_FORMAT || format === TRAINING_CHECKPOINT_FORMAT_V1) return 'training-checkpoint';
  return 'official';
}

function parseJson(path: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ExportError(`${path}: __metadata__ "${key}" is not valid JSON (${(e as Error).message})`);
  }
}

interface FileInfo {
  readonly config?: ModelConfig;
  readonly preset?: string;
  readonly thresholds?: Thresholds;
  readonly classes?: readonly string[];
}

function uniasInfo(path: string, file: SafetensorsFile): FileInfo {
  const k = UNIAS_METADATA_KEYS;
  const m = file.metadata;
  const configText = m[k.config];
  if (configText === undefined) throw new ExportError(`${path}: a ${UNIAS_MODEL_FORMAT} file needs __metadata__ "${k.config}"`);
  const config = parseJson(path, k.config, configText);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new ExportError(`${path}: __metadata__ "${k.config}" is not a JSON object`);
  const preset = m[k.preset];
  const t = m[k.thresholds] === undefined ? undefined : parseJson(path, k.thresholds, m[k.thresholds]!);
  if (t !== undefined && (typeof t !== 'object' || t === null || Array.isArray(t)))
    throw new ExportError(`${path}: __metadata__ "${k.thresholds}" is not a JSON object`);
  const classes = m[k.classes];
  const info: FileInfo = {
    config: config as ModelConfig,
    ...(preset !== undefined ? { preset } : {}),
    ...(t !== undefined ? { thresholds: t as Thresholds } : {}),
    ...(classes !== undefined ? { classes: parseJson(path, k.classes, classes) as string[] } : {}),
  };
  checkInfo(info, `${path}: __metadata__`);
  return info;
}

function chooseConfig(o: LoadModelOptions, files: ReadonlyArray<{ path: string; info: FileInfo }>): { config: ModelConfig; preset?: string } {
  const fromFiles = files.filter((f) => f.info.config !== undefined);
  // Files that carry a configuration must agree, unless the caller gives one.
  if (!o.config && !o.preset && fromFiles.length > 1) {
    const first = JSON.stringify(fromFiles[0]!.info.config);
    const other = fromFiles.find((f) => JSON.stringify(f.info.config) !== first);
    if (other) throw new ExportError(`the model configurations in ${fromFiles[0]!.path} and ${other.path} differ; pass a config or a preset`);
  }
  let base: ModelConfig;
  let preset: string | undefined;
  if (o.config) {
    base = o.config;
    preset = o.preset;
  } else if (o.preset !== undefined) {
    if (!isPresetName(o.preset)) throw new ExportError(`unknown preset "${o.preset}"; known: ${PRESET_NAMES.join(', ')}`);
    base = presetConfig(o.preset);
    preset = o.preset;
  } else if (fromFiles.length > 0) {
    base = fromFiles[0]!.info.config!;
    preset = fromFiles[0]!.info.preset;
  } else {
    throw new ExportError(
      `no model configuration: ${files.map((f) => f.path).join(', ')} ${files.length > 1 ? 'are' : 'is'} official-layout weights without one; ` +
        `give a preset (${PRESET_NAMES.join(', ')}) or a config`,
    );
  }
  return { config: { ...base, ...(o.overrides ?? {}) }, ...(preset !== undefined ? { preset } : {}) };
}

function scalarBuffer(path: string, e: SafetensorsEntry): number {
  if (!INT_DTYPES.has(e.dtype) || e.shape.reduce((a, d) => a * d, 1) !== 1) {
    throw new ExportError(`${path}: "${e.name}" must be an integer scalar (int64 in PyTorch), got ${e.dtype} [${e.shape.join(',')}]`);
  }
  return entryToNumbers(e)[0]!;
}

/** Reads weight files into a checked model (see the module comment). */
export async function loadModelFiles(paths: readonly string[], o: LoadModelOptions = {}): Promise<LoadedModel> {
  if (!Array.isArray(paths) || paths.length === 0) throw new ExportError('no weight files given');
  const step = stepper(paths.length + 2, o.onProgress);
  const read: Array<{ path: string; file: SafetensorsFile; layout: FileLayout; info: FileInfo }> = [];
  for (const path of paths) {
    step(`reading ${path}`);
    let file: SafetensorsFile;
    try {
      file = isTorchCheckpointPath(path) ? checkpointAsSafetensors(await readTorchCheckpointFile(path)) : await readSafetensorsFile(path);
    } catch (e) {
      throw new ExportError((e as Error).message);
    }
    const layout = layoutOf(file);
    read.push({ path, file, layout, info: layout === 'unias' ? uniasInfo(path, file) : {} });
  }
  const { config, preset } = chooseConfig(o, read);
  step('checking the weights against the model');
  const g = modelGraphs(config, preset ? `preset ${preset}` : 'model config');
  const buffersKnown = new Set(g.buffers);

  const params = new Map<string, TensorData<'float32'>>();
  const buffers = new Map<string, number>();
  const source = new Map<string, string>();
  const unexpectedBuffers: string[] = [];
  const files: LoadedFile[] = [];
  for (const { path, file, layout } of read) {
    let count = 0;
    for (const [name, e] of file.tensors) {
      if (layout === 'training-checkpoint' && name.startsWith(OPTIMIZER_PREFIX)) continue;
      const seen = source.get(name);
      if (seen) throw new ExportError(`tensor "${name}" is in both ${seen} and ${path}`);
      source.set(name, path);
      if (name.endsWith('.num_batches_tracked')) {
        const v = scalarBuffer(path, e);
        if (buffersKnown.has(name)) buffers.set(name, v);
        else unexpectedBuffers.push(`${name} (in ${path})`);
        continue;
      }
      if (!FLOAT_DTYPES.has(e.dtype)) throw new ExportError(`${path}: tensor "${name}" is ${e.dtype}; weights must be F32, F16, BF16 or F64`);
      const data = entryToFloat32(e);
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new ExportError(`${path}: tensor "${name}" holds ${data[bad]} at element ${bad}: the file is corrupt or the model diverged`);
      params.set(name, { dtype: 'float32', shape: [...e.shape], data });
      count += 1;
    }
    files.push({ path, layout, tensors: count });
  }
  if (unexpectedBuffers.length > 0) {
    throw new ExportError(
      `weights do not fit the model (${describeModel(g, preset)}): ${unexpectedBuffers.length} unexpected: ${unexpectedBuffers.slice(0, 8).join(', ')} (no such batch norm in this model)`,
    );
  }
  checkTensors(g, params, { sourceOf: (n) => source.get(n), sources: paths, model: describeModel(g, preset) });

  const withInfo = read.find((f) => f.info.thresholds !== undefined || f.info.classes !== undefined)?.info;
  step(`loaded ${params.size} tensors for ${describeModel(g, preset)}`);
  return {
    config,
    params,
    buffers,
    files,
    ...(preset !== undefined ? { preset } : {}),
    ...(withInfo?.thresholds !== undefined ? { thresholds: withInfo.thresholds } : {}),
    ...(withInfo?.classes !== undefined ? { classes: withInfo.classes } : {}),
  };
}
