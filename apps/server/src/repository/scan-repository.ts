/**
 * A Triton model repository on disk (what `unias export --format triton` writes):
 * `DIR/NAME/config.pbtxt` and `DIR/NAME/VERSION/model.onnx`. Reads every model's config against
 * Triton's schema (@unias/triton-config) and picks the versions its `version_policy` serves, by
 * Triton's rules: folders named by a positive integer are versions, `latest { num_versions }`
 * (default 1) serves the highest ones, `all` every one, `specific { versions }` those listed (each
 * must exist). Hidden folders (an export in progress: `.NAME.*.tmp`) are skipped.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readModelConfig, type TritonModelConfig } from '@unias/triton-config';

export const ONNX_PLATFORM = 'onnxruntime_onnx';
export const ONNX_BACKEND = 'onnxruntime';
const DEFAULT_MODEL_FILENAME = 'model.onnx';
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface RepositoryVersion {
  /** The version folder's name, a positive integer without leading zeros. */
  readonly version: string;
  /** The model file inside it. */
  readonly path: string;
}

export interface RepositoryModel {
  readonly name: string;
  readonly dir: string;
  /** The config.pbtxt path, or null when the folder has none (Triton then derives it from the model). */
  readonly configPath: string | null;
  readonly config: TritonModelConfig;
  /** The versions the policy serves, in ascending order. */
  readonly versions: readonly RepositoryVersion[];
}

export class RepositoryError extends Error {
  override readonly name = 'RepositoryError';
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() === true;
}

function byVersion(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The versions `config.version_policy` serves out of the folders present. */
export function servedVersions(present: readonly string[], config: TritonModelConfig, where: string): string[] {
  const sorted = [...present].sort(byVersion);
  const policy = config.version_policy;
  if (policy?.all !== undefined) return sorted;
  if (policy?.specific !== undefined) {
    const wanted = [...new Set((policy.specific.versions ?? []).map(String))].sort(byVersion);
    const missing = wanted.filter((v) => !sorted.includes(v));
    if (missing.length > 0) {
      throw new RepositoryError(
        `${where}: version_policy specific lists version ${missing.join(', ')}, which has no folder (present: ${sorted.join(', ') || 'none'})`,
      );
    }
    return wanted;
  }
  const n = Math.max(1, policy?.latest?.num_versions ?? 1);
  return sorted.slice(-n);
}

/** The model file of a version: `default_model_filename`, else model.onnx, inside the version folder. */
function modelFileName(config: TritonModelConfig, where: string): string {
  const name = config.default_model_filename || DEFAULT_MODEL_FILENAME;
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..') {
    throw new RepositoryError(`${where}: default_model_filename '${name}' must be a file name inside the version folder`);
  }
  return name;
}

/** Checks what this server can honour; everything else in the schema is refused by name. */
function checkServable(name: string, config: TritonModelConfig, where: string): void {
  if (config.name !== undefined && config.name !== '' && config.name !== name) {
    throw new RepositoryError(`${where}: name '${config.name}' differs from its folder '${name}' (Triton requires them equal)`);
  }
  const platform = config.platform ?? '';
  const backend = config.backend ?? '';
  if ((platform !== '' && platform !== ONNX_PLATFORM) || (backend !== '' && backend !== ONNX_BACKEND)) {
    throw new RepositoryError(
      `${where}: ${platform !== '' ? `platform '${platform}'` : `backend '${backend}'`} is not served here; this server runs platform '${ONNX_PLATFORM}' (backend '${ONNX_BACKEND}') models`,
    );
  }
  for (const field of ['sequence_batching', 'ensemble_scheduling', 'batch_input', 'batch_output'] as const) {
    const value = config[field];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0)) {
      throw new RepositoryError(`${where}: ${field} is not supported by this server (dynamic_batching or none is)`);
    }
  }
  if ((config['model_transaction_policy'] as { decoupled?: boolean } | undefined)?.decoupled === true) {
    throw new RepositoryError(`${where}: decoupled models (model_transaction_policy) are not supported by this server`);
  }
  const maxBatch = config.max_batch_size ?? 0;
  if (maxBatch < 0) throw new RepositoryError(`${where}: max_batch_size must be >= 0, got ${maxBatch}`);
  if (config.dynamic_batching !== undefined && maxBatch === 0) {
    throw new RepositoryError(`${where}: dynamic_batching needs max_batch_size > 0`);
  }
}

/** Scans `dir` and returns its models (sorted by name), each with the versions to serve. */
export async function scanModelRepository(dir: string): Promise<RepositoryModel[]> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => e.name);
  } catch (e) {
    throw new RepositoryError(`cannot read the model repository ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const models: RepositoryModel[] = [];
  for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
    const modelDir = join(root, name);
    if (!(await isDirectory(modelDir))) continue;
    if (!NAME_PATTERN.test(name)) throw new RepositoryError(`${modelDir}: a model folder's name must match ${NAME_PATTERN.source}`);
    const configPath = join(modelDir, 'config.pbtxt');
    const hasConfig = (await stat(configPath).catch(() => null))?.isFile() === true;
    let config: TritonModelConfig;
    try {
      config = hasConfig ? await readModelConfig(configPath) : { name };
    } catch (e) {
      throw new RepositoryError((e as Error).message);
    }
    const where = hasConfig ? configPath : modelDir;
    checkServable(name, config, where);
    const entries = await readdir(modelDir, { withFileTypes: true });
    const present: string[] = [];
    for (const e of entries) if (/^[1-9]\d*$/.test(e.name) && (await isDirectory(join(modelDir, e.name)))) present.push(e.name);
    const versions = servedVersions(present, config, where);
    if (versions.length === 0) throw new RepositoryError(`${modelDir}: no version folder (1/, 2/, ...) to serve`);
    const file = modelFileName(config, where);
    const served: RepositoryVersion[] = [];
    for (const version of versions) {
      const path = join(modelDir, version, file);
      if (!(await stat(path).catch(() => null))?.isFile()) throw new RepositoryError(`${path}: missing (version ${version} of model '${name}')`);
      served.push({ version, path });
    }
    models.push({ name, dir: modelDir, configPath: hasConfig ? configPath : null, config, versions: served });
  }
  if (models.length === 0) throw new RepositoryError(`the model repository ${root} holds no model folders`);
  return models;
}
