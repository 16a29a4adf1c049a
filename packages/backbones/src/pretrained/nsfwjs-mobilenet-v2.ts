/**
 * ImageNet MobileNetV2 weights from the bundles of the npm package `nsfwjs` (MIT): its
 * `dist/models/mobilenet_v2/` holds a Keras 2.2.4 MobileNetV2 fine-tuned for NSFW classes, as two
 * browserify (UMD) bundles: `model.min.js` exports the tfjs model.json object, and
 * `group1-shard1of1.min.js` exports the binary weight shard as a base64 string (uint8-quantised).
 * Its layers Conv1..block_10 were frozen (`trainable: false`) during the fine-tuning, so their
 * kernels and batch-norm scales are the Keras Applications ImageNet weights (Apache-2.0).
 *
 * The files ship in the package `@unias/mobilenet-v2-weights` (an optional peer dependency, see
 * `bundledMobileNetV2Dir`); this package depends neither on it nor on nsfwjs or tfjs.
 *
 * The frozen layers are converted once to safetensors (PyTorch layouts, Keras layer names),
 * cached on disk under a name keyed by the SHA-256 of the two source files, verified on every load
 * and written atomically.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { readSafetensorsFile, writeSafetensorsFile, type SafetensorsFile, type TensorToWrite } from '@unias/graph';
import type { DefaultWeights, DefaultWeightsOptions } from '../backbone.js';
import { weightsFromSafetensors } from '../weights/safetensors.js';
import { checkTfjsModelJson, weightsFromTfjsLayers, type TfjsModelJson } from '../weights/tfjs-layers.js';
import type { WeightMap } from '../weights/names.js';

const MODEL_FILE = 'model.min.js';
const SHARD_FILE = 'group1-shard1of1.min.js';
/** Bump when the conversion changes, so old cache files are not reused. */
const CONVERTER_VERSION = '1';

/** Where the default weights come from (the same text as @unias/mobilenet-v2-weights' MOBILENET_V2_WEIGHTS_SOURCE; a test checks). */
export const NSFWJS_SOURCE =
  'nsfwjs (npm, MIT), dist/models/mobilenet_v2: layers Conv1..block_10, frozen during its NSFW fine-tuning, ' +
  'hold the Keras Applications MobileNetV2 ImageNet weights (Apache-2.0), uint8-quantised';

export interface NsfwjsFiles {
  readonly dir: string;
  readonly model: Uint8Array;
  readonly shard: Uint8Array;
  /** SHA-256 (hex) over both files, each preceded by its name and length. */
  readonly sha256: string;
}

export interface NsfwjsModel {
  readonly modelJson: TfjsModelJson & { readonly modelTopology: unknown };
  readonly weightData: Uint8Array;
  readonly sha256: string;
}

/** The npm package that holds the bundle files (the default MobileNetV2 weights). */
export const MOBILENET_V2_WEIGHTS_PACKAGE = '@unias/mobilenet-v2-weights';

/** What `bundledMobileNetV2Dir` needs of the weights package. */
export interface MobileNetV2WeightsPackage {
  /** The folder holding `model.min.js` and `group1-shard1of1.min.js`. */
  mobileNetV2WeightsDir(): string;
}

/** Loads the weights package (an import, or a stand-in in tests). */
export type MobileNetV2WeightsPackageLoader = () => Promise<MobileNetV2WeightsPackage>;

/**
 * Why an optional peer dependency loaded by a dynamic import, and not a registration call the weights
 * package makes: the peer is resolved the way every installer resolves a dependency, from where
 * this file is. npm hoists it next to us; pnpm's strict node_modules lets a package import only what
 * it declares, and a declared (optional) peer is linked from whichever package installs both
 * (`@unias/engine`, `@unias/cli`, the user's app); in this workspace our devDependency links it.
 * A registration call would need every program to import the weights package for its side effect
 * before loading weights (and `sideEffects: false` bundlers may drop that import), and would make
 * the weights package depend on this one. Absent, the import fails and loading the default
 * weights says so in one line; nothing else in this package needs it.
 */
export const importMobileNetV2WeightsPackage: MobileNetV2WeightsPackageLoader = () =>
  import('@unias/mobilenet-v2-weights') as Promise<MobileNetV2WeightsPackage>;

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/**
 * Where the MobileNetV2 bundles are: the folder `@unias/mobilenet-v2-weights` names. When that
 * package cannot be loaded, one line saying to install it or to pass a weights file.
 */
export async function bundledMobileNetV2Dir(load: MobileNetV2WeightsPackageLoader = importMobileNetV2WeightsPackage): Promise<string> {
  let pkg: MobileNetV2WeightsPackage;
  try {
    pkg = await load();
  } catch (e) {
    throw new Error(
      `the default MobileNetV2 weights are in the npm package ${MOBILENET_V2_WEIGHTS_PACKAGE}, which could not be loaded (${firstLine(e)}): ` +
        `install it (npm install ${MOBILENET_V2_WEIGHTS_PACKAGE}) or pass a weights file`,
    );
  }
  if (typeof pkg.mobileNetV2WeightsDir !== 'function') {
    throw new Error(`${MOBILENET_V2_WEIGHTS_PACKAGE} has no mobileNetV2WeightsDir(): install a version that matches @unias/backbones`);
  }
  return pkg.mobileNetV2WeightsDir();
}

/** Reads the two bundle files from `dir` (default: the folder of `@unias/mobilenet-v2-weights`). */
export async function readNsfwjsFiles(dir?: string): Promise<NsfwjsFiles> {
  const from = dir ?? (await bundledMobileNetV2Dir());
  const read = async (name: string) => {
    try {
      return new Uint8Array(await readFile(join(from, name)));
    } catch (e) {
      throw new Error(`cannot read the nsfwjs bundle ${join(from, name)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const model = await read(MODEL_FILE);
  const shard = await read(SHARD_FILE);
  const hash = createHash('sha256');
  for (const [name, bytes] of [
    [MODEL_FILE, model],
    [SHARD_FILE, shard],
  ] as const) {
    hash.update(`${name}\n${bytes.byteLength}\n`);
    hash.update(bytes);
  }
  return { dir: from, model, shard, sha256: hash.digest('hex') };
}

/** Runs a UMD bundle in an empty context (no require, no process) and returns its module.exports. */
function evalUmd(bytes: Uint8Array, filename: string): unknown {
  const mod: { exports: unknown } = { exports: {} };
  try {
    runInNewContext(new TextDecoder().decode(bytes), { module: mod, exports: mod.exports }, { filename, timeout: 30_000 });
  } catch (e) {
    throw new Error(`${filename}: the bundle did not evaluate (${(e as Error).message})`);
  }
  return mod.exports;
}

/** The Keras model.json and the weight shard the bundles wrap. */
export function parseNsfwjsFiles(files: NsfwjsFiles): NsfwjsModel {
  const modelPath = join(files.dir, MODEL_FILE);
  const shardPath = join(files.dir, SHARD_FILE);
  // Round-trip through JSON so the objects belong to this realm, not the sandbox's.
  const exported = JSON.parse(JSON.stringify(evalUmd(files.model, modelPath))) as unknown;
  const modelJson = checkTfjsModelJson(exported, modelPath);
  if (!('modelTopology' in modelJson)) throw new Error(`${modelPath}: the model has no modelTopology`);
  const base64 = evalUmd(files.shard, shardPath);
  if (typeof base64 !== 'string') throw new Error(`${shardPath}: expected the bundle to export a base64 string, got ${typeof base64}`);
  const weightData = new Uint8Array(Buffer.from(base64, 'base64'));
  return { modelJson: modelJson as NsfwjsModel['modelJson'], weightData, sha256: files.sha256 };
}

interface KerasLayerConfig {
  readonly name?: unknown;
  readonly config?: { readonly trainable?: unknown };
}

/** Names of the layers the model marks `trainable: false`. */
export function frozenKerasLayers(modelTopology: unknown): Set<string> {
  const layers = (modelTopology as { model_config?: { config?: { layers?: unknown } } })?.model_config?.config?.layers;
  if (!Array.isArray(layers)) throw new Error('the nsfwjs model topology has no model_config.config.layers list');
  const out = new Set<string>();
  for (const l of layers as KerasLayerConfig[]) {
    if (typeof l.name === 'string' && l.config?.trainable === false) out.add(l.name);
  }
  return out;
}

/** The frozen (ImageNet) layers' weights, PyTorch layouts, Keras layer names. */
export function convertNsfwjsMobileNetV2(model: NsfwjsModel): WeightMap {
  const frozen = frozenKerasLayers(model.modelJson.modelTopology);
  const all = weightsFromTfjsLayers(model.modelJson, model.weightData, 'nsfwjs mobilenet_v2');
  const out: WeightMap = new Map();
  for (const [name, t] of all) {
    if (frozen.has(name.slice(0, name.lastIndexOf('.')))) out.set(name, t);
  }
  if (out.size === 0) throw new Error('nsfwjs mobilenet_v2: no weights belong to frozen layers');
  return out;
}

export function defaultCacheDir(): string {
  return resolve(process.cwd(), 'node_modules', '.cache', 'unias');
}

/** SHA-256 over the tensors (sorted by name): name, shape and float32 little-endian bytes. */
function tensorsDigest(entries: Iterable<[string, readonly number[], Uint8Array]>): string {
  const hash = createHash('sha256');
  for (const [name, shape, bytes] of [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    hash.update(`${name}\n${shape.join(',')}\n${bytes.byteLength}\n`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

function f32Bytes(a: Float32Array): Uint8Array {
  // Safetensors is little-endian, as are the machines Node runs on here.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Why a cache file cannot be used, or null when it is good. */
function cacheProblem(file: SafetensorsFile, sourceSha: string): string | null {
  const m = file.metadata;
  if (m['source_sha256'] !== sourceSha) return 'it was made from other nsfwjs files';
  if (m['converter'] !== CONVERTER_VERSION) return 'it was made by another converter version';
  const digest = tensorsDigest([...file.tensors.values()].map((e) => [e.name, e.shape, e.bytes] as [string, readonly number[], Uint8Array]));
  if (m['tensors_sha256'] !== digest) return 'its tensors do not match their checksum';
  return null;
}

export function mobileNetV2CacheFile(cacheDir: string, sourceSha: string): string {
  return join(cacheDir, `mobilenet_v2.nsfwjs-imagenet.${sourceSha.slice(0, 16)}.safetensors`);
}

/**
 * MobileNetV2 ImageNet weights (layers Conv1..block_10) keyed by the `mobilenet_v2` backbone's
 * parameter names, from the bundles in `@unias/mobilenet-v2-weights` (`weightsPackage` loads it);
 * converted on first use and cached.
 */
export async function loadMobileNetV2ImageNet(
  options: DefaultWeightsOptions = {},
  weightsPackage: MobileNetV2WeightsPackageLoader = importMobileNetV2WeightsPackage,
): Promise<WeightMap> {
  const progress = options.onProgress ?? (() => undefined);
  const files = await readNsfwjsFiles(await bundledMobileNetV2Dir(weightsPackage));
  const file = mobileNetV2CacheFile(options.cacheDir ?? defaultCacheDir(), files.sha256);
  let cached: SafetensorsFile | null = null;
  try {
    cached = await readSafetensorsFile(file);
  } catch (e) {
    if (!/ENOENT/.test((e as Error).message)) progress(`ignoring unreadable cache ${file}: ${(e as Error).message}`);
  }
  if (cached) {
    const problem = cacheProblem(cached, files.sha256);
    if (!problem) return weightsFromSafetensors(cached, file);
    progress(`ignoring cache ${file}: ${problem}`);
  }
  progress(`converting MobileNetV2 ImageNet weights from ${files.dir}`);
  const weights = convertNsfwjsMobileNetV2(parseNsfwjsFiles(files));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of weights) tensors[name] = { shape: t.shape, data: t.data, dtype: 'F32' };
  const digest = tensorsDigest([...weights].map(([n, t]) => [n, t.shape, f32Bytes(t.data)] as [string, readonly number[], Uint8Array]));
  await writeSafetensorsFile(file, tensors, {
    source: NSFWJS_SOURCE,
    source_sha256: files.sha256,
    tensors_sha256: digest,
    converter: CONVERTER_VERSION,
    layout: 'keras layer names, PyTorch layouts (OIHW kernels, weight/bias/running_mean/running_var)',
  });
  progress(`cached ${weights.size} tensors in ${file}`);
  return weights;
}

/** The `mobilenet_v2` backbone's default weights, with the weights package loaded by `weightsPackage`. */
export function mobileNetV2DefaultWeights(weightsPackage: MobileNetV2WeightsPackageLoader = importMobileNetV2WeightsPackage): DefaultWeights {
  return {
    source: NSFWJS_SOURCE,
    validTaps: ['res1', 'res2', 'res3', 'res4', 'Conv1_relu', 'expanded_conv_project_BN', 'block_2_add', 'block_5_add', 'block_9_add', 'block_10_project_BN'],
    load: (options) => loadMobileNetV2ImageNet(options, weightsPackage),
  };
}

/** The `mobilenet_v2` backbone's default weights (nsfwjs's ImageNet layers, from `@unias/mobilenet-v2-weights`). */
export const MOBILENET_V2_NSFWJS_WEIGHTS: DefaultWeights = mobileNetV2DefaultWeights();
