/**
 * Weight files -> a model to export or run: `loadModelFiles(paths, { preset | config })` reads
 * one or more safetensors files (official layout, e.g. the backbone and the head separately;
 * unias layout, which carries its own configuration; or a training checkpoint) or PyTorch
 * checkpoints (`.pth`, `.pt`, the official `ckpt.pth.tar`: their state_dict, read as official-layout
 * safetensors by @unias/torch-checkpoint, so without Python), each through @unias/backbones'
 * `readWeightFile` (F16 / BF16 / F64 to float32, `num_batches_tracked` aside), tells the layouts
 * apart by the contract (unias layout) and @unias/training's checkpoint format, and checks every
 * tensor against the configuration: one error names each missing, misshaped or unexpected tensor
 * and its file.
 */
import { readWeightFile, weightFileKind, type BatchCounter, type WeightFile } from '@unias/backbones';
import type { TensorData } from '@unias/graph';
import { isPresetName, PRESET_NAMES, presetConfig, type ModelConfig } from '@unias/model';
import { TRAINING_STATE_FORMAT, isTrainingStateMetadata, splitTrainingTensors } from '@unias/training';
import { isUniasModelMetadata, parseUniasModelMetadata } from './contract.js';
import { ExportError } from './errors.js';
import type { ExportableModel, Thresholds } from './model-info.js';
import { checkTensors, describeModel, modelGraphs } from './model-check.js';
import { stepper, type ProgressCallback } from './progress.js';

/**
 * `__metadata__.format` of @unias/training checkpoints: params under their names, optimizer state under `optimizer.`.
 * @deprecated The format is @unias/training's: use its `TRAINING_STATE_FORMAT` (and `isTrainingStateMetadata` to recognise any version).
 */
export const TRAINING_CHECKPOINT_FORMAT = TRAINING_STATE_FORMAT;

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

const INT_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U8']);

function layoutOf(file: WeightFile): FileLayout {
  if (isUniasModelMetadata(file.metadata)) return 'unias';
  if (isTrainingStateMetadata(file.metadata)) return 'training-checkpoint';
  return 'official';
}

interface FileInfo {
  readonly config?: ModelConfig;
  readonly preset?: string;
  readonly thresholds?: Thresholds;
  readonly classes?: readonly string[];
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

function scalarBuffer(path: string, name: string, c: BatchCounter): number {
  if (!INT_DTYPES.has(c.dtype) || c.value === undefined) {
    throw new ExportError(`${path}: "${name}" must be an integer scalar (int64 in PyTorch), got ${c.dtype} [${c.shape.join(',')}]`);
  }
  return c.value;
}

/** Reads weight files into a checked model (see the module comment). */
export async function loadModelFiles(paths: readonly string[], o: LoadModelOptions = {}): Promise<LoadedModel> {
  if (!Array.isArray(paths) || paths.length === 0) throw new ExportError('no weight files given');
  const step = stepper(paths.length + 2, o.onProgress);
  const read: Array<{ path: string; file: WeightFile; layout: FileLayout; info: FileInfo }> = [];
  for (const path of paths) {
    step(`reading ${path}`);
    let file: WeightFile;
    try {
      // safetensors, or a PyTorch checkpoint (whatever the name, a file that is not a checkpoint is read as safetensors)
      file = await readWeightFile(path, { kind: weightFileKind(path) === 'torch-checkpoint' ? 'torch-checkpoint' : 'safetensors' });
    } catch (e) {
      throw new ExportError((e as Error).message);
    }
    const layout = layoutOf(file);
    read.push({ path, file, layout, info: layout === 'unias' ? parseUniasModelMetadata(file.metadata, path) : {} });
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
    for (const [name, c] of file.counters) {
      const seen = source.get(name);
      if (seen) throw new ExportError(`tensor "${name}" is in both ${seen} and ${path}`);
      source.set(name, path);
      const v = scalarBuffer(path, name, c);
      if (buffersKnown.has(name)) buffers.set(name, v);
      else unexpectedBuffers.push(`${name} (in ${path})`);
    }
    // a training checkpoint's optimizer state is no part of the model
    const tensors = layout === 'training-checkpoint' ? splitTrainingTensors(file.tensors).params : file.tensors;
    for (const [name, t] of tensors) {
      const seen = source.get(name);
      if (seen) throw new ExportError(`tensor "${name}" is in both ${seen} and ${path}`);
      source.set(name, path);
      const bad = t.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new ExportError(`${path}: tensor "${name}" holds ${t.data[bad]} at element ${bad}: the file is corrupt or the model diverged`);
      params.set(name, t);
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
