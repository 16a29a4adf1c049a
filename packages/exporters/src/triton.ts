/**
 * A Triton / KServe model repository entry: `NAME/config.pbtxt` and `NAME/VERSION/model.onnx`
 * (platform onnxruntime_onnx, dynamic batching over the ONNX file's symbolic batch dimension),
 * written into a temporary folder and renamed into place, so a polling server never sees half of it.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { IoSpec } from '@unias/onnx-lowering';
import { ExportError } from './errors.js';
import { checkModel, lowerChecked, type OnnxModelOptions } from './onnx-export.js';
import { describeFsError, ensureDirectory } from './out-path.js';
import { formatTextMessage, ident, message, type TextMessage, type TextValue } from './pbtxt.js';
import { stepper } from './progress.js';

export type InstanceKind = 'cpu' | 'gpu';

export interface TritonConfigOptions {
  /** Model name: the folder's name, also written into config.pbtxt. */
  readonly name: string;
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];
  /** Largest batch Triton forms (default 8). */
  readonly maxBatchSize?: number;
  /** How long the dynamic batcher waits to fill a batch (default 100). */
  readonly maxQueueDelayMicroseconds?: number;
  /** Instance group kind (default 'cpu'). */
  readonly instanceKind?: InstanceKind;
  /** Instances per device (default 1). */
  readonly instanceCount?: number;
  /** GPU ids for 'gpu' instances (default: every GPU). */
  readonly gpus?: readonly number[];
  /** Written as `parameters` string entries (the ONNX metadata, so Triton and KServe clients can read it). */
  readonly parameters?: Readonly<Record<string, string>>;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function checkCount(field: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ExportError(`triton: ${field} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
}

const TRITON_TYPES: Record<IoSpec['dtype'], string> = { float32: 'TYPE_FP32', int32: 'TYPE_INT32', bool: 'TYPE_BOOL' };

function tensorEntry(io: IoSpec): TextMessage {
  if (io.batchAxis !== 0) throw new ExportError(`triton: tensor "${io.name}" has no leading batch dimension; Triton's batcher needs one`);
  const dims = io.shape.slice(1);
  // A tensor that is only the batch ([N], like `score`) is [N, 1] to Triton's API, reshaped to [N] for the model.
  return message(
    ['name', io.name],
    ['data_type', ident(TRITON_TYPES[io.dtype])],
    ['dims', dims.length === 0 ? [1] : dims],
    dims.length === 0 ? ['reshape', message(['shape', []])] : null,
  );
}

/** config.pbtxt text for an ONNX model with these inputs and outputs. */
export function tritonConfigText(o: TritonConfigOptions): string {
  if (!NAME_PATTERN.test(o.name))
    throw new ExportError(`triton: model name ${JSON.stringify(o.name)} must be letters, digits, "_", "." or "-" (it names a folder)`);
  const maxBatchSize = o.maxBatchSize ?? 8;
  const delay = o.maxQueueDelayMicroseconds ?? 100;
  const count = o.instanceCount ?? 1;
  checkCount('maxBatchSize', maxBatchSize, 1);
  checkCount('maxQueueDelayMicroseconds', delay, 0);
  checkCount('instanceCount', count, 1);
  const kind = o.instanceKind ?? 'cpu';
  if (kind !== 'cpu' && kind !== 'gpu') throw new ExportError(`triton: instance kind must be "cpu" or "gpu", got ${JSON.stringify(kind)}`);
  if (o.gpus !== undefined) {
    if (kind !== 'gpu') throw new ExportError('triton: gpus are only for instance kind "gpu"');
    o.gpus.forEach((g) => checkCount('gpus[]', g, 0));
  }
  const parameters: Array<readonly [string, TextValue]> = Object.entries(o.parameters ?? {}).map(
    ([key, value]) => ['parameters', message(['key', key], ['value', message(['string_value', value])])] as const,
  );
  return formatTextMessage(
    message(
      ['name', o.name],
      ['platform', 'onnxruntime_onnx'],
      ['max_batch_size', maxBatchSize],
      ['input', o.inputs.map(tensorEntry)],
      ['output', o.outputs.map(tensorEntry)],
      ['dynamic_batching', message(['max_queue_delay_microseconds', delay])],
      ['instance_group', [message(['count', count], ['kind', ident(kind === 'gpu' ? 'KIND_GPU' : 'KIND_CPU')], o.gpus ? ['gpus', [...o.gpus]] : null)]],
      ...parameters,
    ),
  );
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface TritonRepositoryFiles {
  /** The repository folder (holds one folder per model). */
  readonly repository: string;
  readonly name: string;
  /** Version folder (default 1). */
  readonly version?: number;
  readonly onnx: Uint8Array;
  readonly configText: string;
  /** Replace an existing NAME folder (default false: an error). */
  readonly overwrite?: boolean;
}

/**
 * Writes `repository/NAME/{config.pbtxt, VERSION/model.onnx}`: everything goes into a hidden
 * temporary folder beside it first, which is then renamed to NAME. An existing NAME is replaced
 * only with `overwrite` (moved aside, the new one renamed in, the old one removed).
 */
export async function writeTritonFiles(o: TritonRepositoryFiles): Promise<{ modelDir: string; files: string[] }> {
  const version = o.version ?? 1;
  checkCount('version', version, 1);
  if (!NAME_PATTERN.test(o.name))
    throw new ExportError(`triton: model name ${JSON.stringify(o.name)} must be letters, digits, "_", "." or "-" (it names a folder)`);
  await ensureDirectory(o.repository, 'model repository');
  const modelDir = resolve(o.repository, o.name);
  const existing = await stat(modelDir).catch(() => null);
  if (existing && !o.overwrite) throw new ExportError(`triton: ${modelDir} already exists; choose another name or overwrite it`);
  const stamp = `${process.pid}.${Date.now()}`;
  const tmp = join(resolve(o.repository), `.${o.name}.${stamp}.tmp`);
  const files = [join(modelDir, 'config.pbtxt'), join(modelDir, String(version), 'model.onnx')];
  try {
    await mkdir(join(tmp, String(version)), { recursive: true });
    await writeSynced(join(tmp, String(version), 'model.onnx'), o.onnx);
    await writeSynced(join(tmp, 'config.pbtxt'), o.configText);
    if (existing) {
      const old = join(resolve(o.repository), `.${o.name}.${stamp}.old`);
      await rename(modelDir, old);
      await rename(tmp, modelDir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, modelDir);
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof ExportError) throw e;
    throw new ExportError(`triton: cannot write ${modelDir} (${describeFsError(e)})`);
  }
  return { modelDir, files };
}

export interface TritonExportOptions extends OnnxModelOptions, Omit<TritonConfigOptions, 'name' | 'inputs' | 'outputs' | 'parameters'> {
  /** The model repository folder. */
  readonly out: string;
  /** Model name (default "unias"). */
  readonly name?: string;
  readonly version?: number;
  readonly overwrite?: boolean;
}

export interface TritonExport {
  readonly modelDir: string;
  readonly files: readonly string[];
  readonly configText: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The pipeline as a Triton / KServe model repository entry. */
export async function writeTritonExport(o: TritonExportOptions): Promise<TritonExport> {
  const name = o.name ?? 'unias';
  const step = stepper(4, o.onProgress);
  // Options, model and weights are checked before anything is created or lowered.
  tritonConfigText({ ...o, name, inputs: [], outputs: [] });
  step('checking the model and its weights');
  const checked = checkModel(o);
  await ensureDirectory(o.out, 'model repository');
  if (!o.overwrite && (await stat(resolve(o.out, name)).catch(() => null))) {
    throw new ExportError(`triton: ${resolve(o.out, name)} already exists; choose another name or overwrite it`);
  }
  const built = lowerChecked(o, checked, step);
  const configText = tritonConfigText({ ...o, name, inputs: built.inputs, outputs: built.outputs, parameters: built.metadata });
  step(`writing ${join(o.out, name)} (config.pbtxt, ${o.version ?? 1}/model.onnx ${(built.bytes.byteLength / 1e6).toFixed(1)} MB)`);
  const written = await writeTritonFiles({
    repository: o.out,
    name,
    onnx: built.bytes,
    configText,
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.overwrite !== undefined ? { overwrite: o.overwrite } : {}),
  });
  return { ...written, configText, metadata: built.metadata };
}
