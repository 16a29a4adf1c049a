/**
 * `unias train` settings: a YAML or JSON file (preset + overrides), then flags on top. Defaults are
 * the official UniAS optimiser settings (AdamW betas 0.9/0.999, weight decay 1e-4, gradient
 * clipping at norm 0.1, StepLR gamma 0.1 at 40% and 80% of the run: the official 400 of 1000
 * epochs, scaled to the run's length) with the length from a time budget and an lr for that length.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { INPUT_RANGES, MSE_FORMS, PRESET_NAMES, isPresetName, presetConfig, type ModelConfig, type PresetName } from '@unias/model';
import { parse as parseYaml } from 'yaml';
import { SUBSAMPLINGS, type Subsampling } from '@unias/knn';
import { DEVICES, type DeviceRequest } from '@unias/backend-onnx';
import { BACKENDS, type BackendName } from '@unias/detector';
import { EngineInputError } from '../errors.js';
import { KNN_DEFAULTS, type KnnSettings } from '../knn-fit.js';
import { parseDuration } from '../budget.js';
import { arr, bool, check, ConfigFileError, int, leafPaths, num, obj, oneOf, schemaAt, str, type Schema } from './schema.js';
import { suggestion } from './suggest.js';

// the runtimes are the detector's (it opens the models); re-exported for the configuration's schema
export { BACKENDS, type BackendName };
export const AUGMENTATIONS = ['auto', 'mvtec', 'visa', 'none'] as const;
export type AugmentationName = (typeof AUGMENTATIONS)[number];
export const DATA_FORMATS = ['auto', 'mvtec', 'visa'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];
export const SCHEDULES = ['step', 'constant', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

const MODEL_SCHEMA = obj({
  backbone: str(),
  inputRange: str(INPUT_RANGES),
  taps: arr(str()),
  levels: int({ min: 1, max: 4 }),
  inputSize: oneOf('a multiple of 16 or [height, width]', int({ min: 16 }), arr(int({ min: 16 }), 2)),
  convDim: int({ min: 1 }),
  hidden: int({ min: 1 }),
  maskDim: int({ min: 1 }),
  dimFeedforward: int({ min: 1 }),
  numHeads: int({ min: 1 }),
  encoderLayers: int({ min: 1 }),
  adaptor: str(),
  adaptorHidden: int({ min: 1 }),
  queryAdaptorHidden: int({ min: 1 }),
  attention: str(['spatial-channel', 'spatial']),
  neighbourSize: int({ min: 0 }),
  postGaussian: bool,
  mapLevels: arr(int({ min: 0, max: 3 })),
  dropout: num({ min: 0, max: 0.99 }),
  jitter: obj({ scale: num({ min: 0 }), prob: num({ min: 0, max: 1 }) }),
  loss: obj({ weight: num({ min: 0, exclusiveMin: true }), cosine: str(['distance', 'released']), mse: str(MSE_FORMS) }),
});

export const METHOD_NAMES = ['unias', 'knn'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export const TRAIN_SCHEMA: Schema = obj({
  method: str(METHOD_NAMES),
  knn: obj({
    taps: arr(str()),
    stride: int({ min: 1 }),
    poolSize: int({ min: 1 }),
    bankSize: int({ min: 1 }),
    sigma: num({ min: 0 }),
    subsampling: str(SUBSAMPLINGS),
    maxCandidates: int({ min: 1 }),
    projectDim: int({ min: 0 }),
  }),
  preset: str(PRESET_NAMES),
  model: MODEL_SCHEMA,
  data: obj({
    roots: oneOf('a folder or a list of folders', str(), arr(str())),
    format: str(DATA_FORMATS),
    classes: arr(str()),
    augmentation: str(AUGMENTATIONS),
  }),
  weights: oneOf('a weights file or a list of them', str(), arr(str())),
  backboneWeights: str(),
  backend: str(BACKENDS),
  device: str(DEVICES),
  train: obj({
    epochs: int({ min: 1 }),
    steps: int({ min: 1 }),
    timeBudget: oneOf('seconds or a duration such as "30m" or "1h30m"', num({ min: 1 }), str()),
    batchSize: int({ min: 1 }),
    lr: num({ min: 0, exclusiveMin: true }),
    betas: arr(num({ min: 0, max: 0.999999 }), 2),
    eps: num({ min: 0, exclusiveMin: true }),
    weightDecay: num({ min: 0 }),
    clipNorm: num({ min: 0 }),
    schedule: str(SCHEDULES),
    lrStepEpochs: int({ min: 1 }),
    lrGamma: num({ min: 0, exclusiveMin: true, max: 1 }),
    warmupSteps: int({ min: 0 }),
    seed: int({ min: 0 }),
    featureCache: oneOf('true, false or "auto"', bool, str(['auto'])),
    cacheDir: str(),
    threads: int({ min: 1 }),
  }),
  output: obj({
    dir: str(),
    logEvery: int({ min: 1 }),
    evalEvery: int({ min: 0 }),
    checkpointEvery: int({ min: 1 }),
    keepCheckpoints: int({ min: 1 }),
  }),
  thresholds: obj({
    imageQuantile: num({ min: 0.5, max: 1 }),
    pixelQuantile: num({ min: 0.5, max: 1 }),
  }),
});

/** The settings of one run, every field resolved (stored as the run's `run.json`). */
export interface TrainSettings {
  /** 'unias' (train the head) or 'knn' (fit a memory bank on the same backbone). */
  readonly method: MethodName;
  /** Why: given (method key / --method), or chosen by {@link defaultMethod}'s rule. */
  readonly methodFrom?: 'given' | 'training-options' | 'default';
  /** The nearest-neighbour detector's settings (method 'knn', and the baseline every run is compared with). */
  readonly knn: KnnSettings;
  readonly preset: PresetName;
  /** The preset with the overrides applied. */
  readonly model: ModelConfig;
  /** Only the overrides (what differs from the preset), for the record. */
  readonly modelOverrides: Partial<ModelConfig>;
  readonly data: {
    readonly roots: readonly string[];
    readonly format: DataFormat;
    readonly classes: readonly string[] | null;
    readonly augmentation: AugmentationName;
  };
  /** Weights files bound by name (backbone and/or head); absolute paths. */
  readonly weights: readonly string[];
  /** 'default' (the backbone's bundled weights), 'random' (tests only) or a file. */
  readonly backboneWeights: string;
  readonly backend: BackendName;
  /** Where the backend runs: auto (the best that works), cpu, webgpu or cuda. Absent in older runs (auto). */
  readonly device?: DeviceRequest;
  readonly train: {
    readonly epochs: number | null;
    readonly steps: number | null;
    /** Seconds: a new run without epochs or steps takes the length that fits (measured speed). */
    readonly timeBudget: number | null;
    readonly batchSize: number;
    readonly lr: number;
    readonly betas: readonly [number, number];
    readonly eps: number;
    readonly weightDecay: number;
    /** 0 = no clipping. */
    readonly clipNorm: number;
    readonly schedule: ScheduleName;
    /** StepLR period in epochs; null = 40% of the run. */
    readonly lrStepEpochs: number | null;
    readonly lrGamma: number;
    /** null: `TRAIN_DEFAULTS.warmupFraction` of the run's steps. */
    readonly warmupSteps: number | null;
    readonly seed: number;
    /** 'auto': on when the frozen backbone is at least a quarter of a training step's FLOPs. */
    readonly featureCache: boolean | 'auto';
    readonly cacheDir: string | null;
    readonly threads: number | null;
  };
  readonly output: {
    readonly dir: string;
    readonly logEvery: number;
    readonly evalEvery: number;
    readonly checkpointEvery: number;
    readonly keepCheckpoints: number;
  };
  readonly thresholds: { readonly imageQuantile: number; readonly pixelQuantile: number };
}

export const TRAIN_DEFAULTS = {
  preset: 'cpu' as PresetName,
  /** Without --epochs, --steps or a budget, a run takes this budget (seconds), not the official 1000 epochs (days on a CPU). */
  timeBudget: 1800,
  batchSize: 8,
  /**
   * 10x the official 1e-4, which belongs to 1000 epochs of batch 64 on a GPU: a budgeted CPU run
   * is hundreds of times shorter (docs/accuracy.md: 1e-4 barely moves; with the cosine schedule
   * 1e-3 trains the unified 8-class run best).
   */
  lr: 1e-3,
  /**
   * Cosine, not the official StepLR: a budgeted run is ~12 epochs, and StepLR's drop at 40% stops
   * the unified run while it still learns (docs/accuracy.md: mean pixel AP 0.153 -> 0.292 at lr 1e-3).
   */
  schedule: 'cosine' as ScheduleName,
  /** Linear warm-up over this fraction of the run unless `warmupSteps` is given. */
  warmupFraction: 0.05,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
  weightDecay: 1e-4,
  clipNorm: 0.1,
  lrGamma: 0.1,
  /** StepLR period as a fraction of the run (official: 400 of 1000 epochs). */
  lrStepFraction: 0.4,
  logEvery: 10,
  evalEvery: 10,
  checkpointEvery: 200,
  keepCheckpoints: 2,
  imageQuantile: 0.99,
  pixelQuantile: 0.999,
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type RawConfig = { [k: string]: Json };

/** Reads and checks a YAML (.yaml/.yml) or JSON config file. Relative paths in it are made absolute. */
export async function readTrainConfigFile(path: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new EngineInputError(`config file ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message}`);
  }
  let value: unknown;
  const ext = extname(path).toLowerCase();
  try {
    value = ext === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: false });
  } catch (e) {
    throw new EngineInputError(`config file ${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) value = {};
  check(value, TRAIN_SCHEMA, path, '');
  const raw = value as RawConfig;
  const base = dirname(resolve(path));
  return absolutePaths(raw, base);
}

function absolutePaths(raw: RawConfig, base: string): RawConfig {
  const abs = (p: Json): Json => (typeof p === 'string' ? resolve(base, p) : p);
  const out: RawConfig = { ...raw };
  const data = raw['data'];
  if (data && typeof data === 'object' && !Array.isArray(data) && data['roots'] !== undefined) {
    const roots = data['roots'];
    out['data'] = { ...data, roots: Array.isArray(roots) ? roots.map(abs) : abs(roots ?? null) };
  }
  if (raw['weights'] !== undefined) out['weights'] = Array.isArray(raw['weights']) ? raw['weights'].map(abs) : abs(raw['weights']);
  const bw = raw['backboneWeights'];
  if (typeof bw === 'string' && bw !== 'default' && bw !== 'random' && bw !== 'pretrained') out['backboneWeights'] = abs(bw);
  const train = raw['train'];
  if (train && typeof train === 'object' && !Array.isArray(train) && typeof train['cacheDir'] === 'string')
    out['train'] = { ...train, cacheDir: abs(train['cacheDir']) };
  const output = raw['output'];
  if (output && typeof output === 'object' && !Array.isArray(output) && typeof output['dir'] === 'string')
    out['output'] = { ...output, dir: abs(output['dir']) };
  return out;
}

/** Sets `path` (dotted) to `value` in a raw config, checking it against the schema. */
export function setPath(raw: RawConfig, path: string, value: Json, source: string): void {
  const s = schemaAt(TRAIN_SCHEMA, path);
  if (!s) {
    const known = leafPaths(TRAIN_SCHEMA);
    throw new ConfigFileError(source, '', `unknown key "${path}"${suggestion(path, known)}`);
  }
  check(value, s, source, path);
  const parts = path.split('.');
  let cur: { [k: string]: Json } = raw;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as { [k: string]: Json };
  }
  cur[parts.at(-1)!] = value;
}

/** `--set key=value`: the value is read as YAML (numbers, booleans, [lists], strings). */
export function parseSetFlag(text: string): { path: string; value: Json } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new EngineInputError(`--set expects key=value, got "${text}"`);
  const path = text.slice(0, eq).trim();
  const rawValue = text.slice(eq + 1);
  let value: Json;
  try {
    value = parseYaml(rawValue) as Json;
  } catch {
    value = rawValue;
  }
  return { path, value };
}

function section(raw: RawConfig, name: string): { [k: string]: Json } {
  const v = raw[name];
  return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function strings(v: Json | undefined): string[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

function defaultRunDir(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return resolve('runs', `unias-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`);
}

/** Settings that only training the UniAS head reads: giving one without a method selects 'unias'. */
export const UNIAS_TRAINING_KEYS = ['epochs', 'steps', 'timeBudget', 'lr', 'schedule', 'lrStepEpochs', 'warmupSteps'] as const;

/**
 * The method when none is given: the nearest-neighbour detector, the most accurate detector a CPU
 * user gets from this project within a 30-minute budget (docs/accuracy.md: on 7 of 8 classes a unified
 * bank beats the UniAS head trained for 30 minutes on 2 cores), unless the settings ask for training
 * (a length, a budget, a learning rate or schedule, initial weights), which only the UniAS head does.
 */
export function defaultMethod(raw: RawConfig, train: Record<string, Json>): { method: MethodName; methodFrom: 'given' | 'training-options' | 'default' } {
  if (raw['method'] !== undefined) return { method: raw['method'] as MethodName, methodFrom: 'given' };
  const training = UNIAS_TRAINING_KEYS.some((k) => train[k] !== undefined) || raw['weights'] !== undefined;
  return training ? { method: 'unias', methodFrom: 'training-options' } : { method: 'knn', methodFrom: 'default' };
}

/** Fills the defaults and checks what the schema cannot (combinations). */
export function resolveTrainSettings(raw: RawConfig): TrainSettings {
  const presetName = typeof raw['preset'] === 'string' ? raw['preset'] : TRAIN_DEFAULTS.preset;
  if (!isPresetName(presetName)) throw new EngineInputError(`unknown preset "${presetName}"${suggestion(presetName, PRESET_NAMES)}`);
  const overrides = section(raw, 'model') as Partial<ModelConfig>;
  const presetModel = presetConfig(presetName);
  const model: ModelConfig = {
    ...presetModel,
    ...overrides,
    ...(overrides.jitter ? { jitter: { ...(presetModel.jitter ?? { scale: 20, prob: 0.5 }), ...overrides.jitter } } : {}),
    ...(overrides.loss ? { loss: { ...presetModel.loss, ...overrides.loss } } : {}),
  };
  const data = section(raw, 'data');
  const roots = strings(data['roots']);
  if (roots.length === 0) throw new EngineInputError('no dataset: give --data DIR (repeatable) or data.roots in the config file');
  const train = section(raw, 'train');
  const output = section(raw, 'output');
  const thresholds = section(raw, 'thresholds');
  const n = (v: Json | undefined, d: number): number => (typeof v === 'number' ? v : d);
  const epochs = typeof train['epochs'] === 'number' ? train['epochs'] : null;
  const steps = typeof train['steps'] === 'number' ? train['steps'] : null;
  if (epochs !== null && steps !== null) throw new EngineInputError('give train.epochs or train.steps, not both');
  let timeBudget: number | null = null;
  const tb = train['timeBudget'];
  if (typeof tb === 'number') timeBudget = tb;
  else if (typeof tb === 'string') {
    timeBudget = parseDuration(tb);
    if (timeBudget === null || timeBudget <= 0)
      throw new EngineInputError(`train.timeBudget: expected seconds or a duration such as "30m", got ${JSON.stringify(tb)}`);
  }
  if (timeBudget !== null && (epochs !== null || steps !== null)) throw new EngineInputError('give a time budget or train.epochs/train.steps, not both');
  if (epochs === null && steps === null && timeBudget === null) timeBudget = TRAIN_DEFAULTS.timeBudget;
  const betas = Array.isArray(train['betas']) ? (train['betas'] as number[]) : TRAIN_DEFAULTS.betas;
  const k = section(raw, 'knn');
  return {
    ...defaultMethod(raw, train),
    knn: {
      taps: Array.isArray(k['taps']) ? k['taps'].map(String) : KNN_DEFAULTS.taps,
      stride: n(k['stride'], KNN_DEFAULTS.stride),
      poolSize: n(k['poolSize'], KNN_DEFAULTS.poolSize),
      bankSize: n(k['bankSize'], KNN_DEFAULTS.bankSize),
      sigma: n(k['sigma'], KNN_DEFAULTS.sigma),
      subsampling: (k['subsampling'] as Subsampling | undefined) ?? KNN_DEFAULTS.subsampling,
      maxCandidates: n(k['maxCandidates'], KNN_DEFAULTS.maxCandidates),
      projectDim: n(k['projectDim'], KNN_DEFAULTS.projectDim),
    },
    preset: presetName,
    model,
    modelOverrides: overrides,
    data: {
      roots,
      format: (data['format'] as DataFormat | undefined) ?? 'auto',
      classes: Array.isArray(data['classes']) ? data['classes'].map(String) : null,
      augmentation: (data['augmentation'] as AugmentationName | undefined) ?? 'auto',
    },
    weights: strings(raw['weights']),
    backboneWeights: typeof raw['backboneWeights'] === 'string' ? raw['backboneWeights'] : 'default',
    backend: (raw['backend'] as BackendName | undefined) ?? 'onnx',
    device: (raw['device'] as DeviceRequest | undefined) ?? 'auto',
    train: {
      epochs,
      steps,
      timeBudget,
      batchSize: n(train['batchSize'], TRAIN_DEFAULTS.batchSize),
      lr: n(train['lr'], TRAIN_DEFAULTS.lr),
      betas: [betas[0]!, betas[1]!],
      eps: n(train['eps'], TRAIN_DEFAULTS.eps),
      weightDecay: n(train['weightDecay'], TRAIN_DEFAULTS.weightDecay),
      clipNorm: n(train['clipNorm'], TRAIN_DEFAULTS.clipNorm),
      schedule: (train['schedule'] as ScheduleName | undefined) ?? TRAIN_DEFAULTS.schedule,
      lrStepEpochs: typeof train['lrStepEpochs'] === 'number' ? train['lrStepEpochs'] : null,
      lrGamma: n(train['lrGamma'], TRAIN_DEFAULTS.lrGamma),
      warmupSteps: typeof train['warmupSteps'] === 'number' ? train['warmupSteps'] : null,
      seed: n(train['seed'], 0),
      featureCache: typeof train['featureCache'] === 'boolean' ? train['featureCache'] : 'auto',
      cacheDir: typeof train['cacheDir'] === 'string' ? train['cacheDir'] : null,
      threads: typeof train['threads'] === 'number' ? train['threads'] : null,
    },
    output: {
      dir: typeof output['dir'] === 'string' ? output['dir'] : defaultRunDir(),
      logEvery: n(output['logEvery'], TRAIN_DEFAULTS.logEvery),
      evalEvery: n(output['evalEvery'], TRAIN_DEFAULTS.evalEvery),
      checkpointEvery: n(output['checkpointEvery'], TRAIN_DEFAULTS.checkpointEvery),
      keepCheckpoints: n(output['keepCheckpoints'], TRAIN_DEFAULTS.keepCheckpoints),
    },
    thresholds: {
      imageQuantile: n(thresholds['imageQuantile'], TRAIN_DEFAULTS.imageQuantile),
      pixelQuantile: n(thresholds['pixelQuantile'], TRAIN_DEFAULTS.pixelQuantile),
    },
  };
}
