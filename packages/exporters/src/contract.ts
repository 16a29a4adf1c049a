/**
 * The exported-model contract (docs/exported-model.md), in one place and without the exporters'
 * heavy code (`@unias/exporters/contract`): the metadata keys an export writes, how their values are
 * written, and how they are parsed and validated (every error names the key). Two carriers:
 * - an exported ONNX pipeline's `metadata_props` (`METADATA_KEYS`, `unias.*`), also given as Triton
 *   config parameters; read by the detector, the server and the CLI;
 * - a unias-layout safetensors model's `__metadata__` (`UNIAS_METADATA_KEYS`, format `unias-model/1`).
 */
import { preprocessingMetadata } from '@unias/image/contract';
import type { ModelConfig, ResolvedConfig } from '@unias/model';
import { ExportError } from './errors.js';
import { checkInfo, type ModelInfo, type Thresholds } from './model-info.js';
import { PRECISIONS, isPrecision, type CalibrationInfo, type Precision } from './quantize/precision.js';

/** Version of the exported-model contract this package writes (`unias.format`). */
export const EXPORT_FORMAT_VERSION = 1;

/** The ONNX `metadata_props` keys of an export. */
export const METADATA_KEYS = {
  format: 'unias.format',
  /** "H,W". */
  inputSize: 'unias.input_size',
  preset: 'unias.preset',
  backbone: 'unias.backbone',
  thresholdImage: 'unias.threshold.image',
  thresholdPixel: 'unias.threshold.pixel',
  thresholdSource: 'unias.threshold.source',
  /** Comma-separated class names. */
  classes: 'unias.classes',
  method: 'unias.method',
  inputRange: 'unias.input_range',
  /** float32 (when absent), int8, fp16. */
  precision: 'unias.precision',
  calibrationImages: 'unias.calibration.images',
  calibrationMethod: 'unias.calibration.method',
  calibrationSource: 'unias.calibration.source',
} as const;

/** The preset key's value when the configuration did not come from a named preset. */
export const CUSTOM_PRESET = 'custom';

/**
 * metadata_props of an export: format, input size, preset, backbone, precision (and calibration of
 * an int8 export), and thresholds/classes when known.
 */
export function exportMetadata(
  config: ResolvedConfig,
  info: ModelInfo,
  precision: Precision = 'float32',
  calibration?: CalibrationInfo,
): Record<string, string> {
  const m: Record<string, string> = {
    [METADATA_KEYS.format]: String(EXPORT_FORMAT_VERSION),
    [METADATA_KEYS.inputSize]: `${config.inputSize[0]},${config.inputSize[1]}`,
    [METADATA_KEYS.preset]: info.preset ?? CUSTOM_PRESET,
    [METADATA_KEYS.backbone]: config.backbone.id,
    [METADATA_KEYS.method]: config.method,
    // the scaling is inside the graph; recorded so that a baseline can use the same
    [METADATA_KEYS.inputRange]: config.inputRange,
    // how an image becomes `image` (the contract training used), so a KServe client can do the same
    ...preprocessingMetadata(),
    [METADATA_KEYS.precision]: precision,
  };
  if (calibration) {
    m[METADATA_KEYS.calibrationImages] = String(calibration.images);
    m[METADATA_KEYS.calibrationMethod] = calibration.method;
    if (calibration.source !== undefined) m[METADATA_KEYS.calibrationSource] = calibration.source;
  }
  const t = info.thresholds;
  if (t?.image !== undefined) m[METADATA_KEYS.thresholdImage] = String(t.image);
  if (t?.pixel !== undefined) m[METADATA_KEYS.thresholdPixel] = String(t.pixel);
  if (t?.source !== undefined) m[METADATA_KEYS.thresholdSource] = t.source;
  if (info.classes !== undefined && info.classes.length > 0) m[METADATA_KEYS.classes] = info.classes.join(',');
  return m;
}

type Metadata = Readonly<Record<string, string>>;

const at = (source: string | undefined): string => (source === undefined ? '' : `${source}: `);

/** `unias.input_size` as [H, W]; undefined when absent; an error naming the key when it is not "H,W" of positive integers. */
export function metadataInputSize(raw: Metadata, source?: string): [number, number] | undefined {
  const key = METADATA_KEYS.inputSize;
  const text = raw[key];
  if (text === undefined) return undefined;
  const size = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(text);
  if (!size) throw new ExportError(`${at(source)}metadata ${key} = "${text}" is not "H,W"`);
  const h = Number(size[1]);
  const w = Number(size[2]);
  if (![h, w].every((d) => Number.isSafeInteger(d) && d > 0)) throw new ExportError(`${at(source)}metadata ${key} = "${text}" is not two positive integers`);
  return [h, w];
}

/** A numeric key (e.g. `METADATA_KEYS.thresholdImage`); undefined when absent or empty; an error naming the key when not finite. */
export function metadataNumber(raw: Metadata, key: string, source?: string): number | undefined {
  const v = raw[key];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ExportError(`${at(source)}metadata ${key} = "${v}" is not a finite number`);
  return n;
}

/** `unias.precision`; float32 when absent (files from before int8 export); an error naming the key for an unknown one. */
export function metadataPrecision(raw: Metadata, source?: string): Precision {
  const precision = raw[METADATA_KEYS.precision] ?? 'float32';
  if (!isPrecision(precision))
    throw new ExportError(`${at(source)}metadata ${METADATA_KEYS.precision} = "${precision}" is not one of ${PRECISIONS.join(', ')}`);
  return precision;
}

/** The thresholds keys (each optional). */
export function metadataThresholds(raw: Metadata, source?: string): Thresholds {
  const image = metadataNumber(raw, METADATA_KEYS.thresholdImage, source);
  const pixel = metadataNumber(raw, METADATA_KEYS.thresholdPixel, source);
  const thresholdSource = raw[METADATA_KEYS.thresholdSource];
  return {
    ...(image !== undefined ? { image } : {}),
    ...(pixel !== undefined ? { pixel } : {}),
    ...(thresholdSource !== undefined ? { source: thresholdSource } : {}),
  };
}

export interface ExportedMetadata {
  readonly format: number;
  readonly inputSize: readonly [number, number];
  readonly preset: string;
  readonly backbone: string;
  readonly thresholds: Thresholds;
  readonly classes: readonly string[];
  /** float32 when the file does not say (files from before int8 export). */
  readonly precision: Precision;
  /** How an int8 export was calibrated. */
  readonly calibration?: CalibrationInfo;
  /** The detector method (`unias.method`: unias, knn), when written. */
  readonly method?: string;
  /** How the graph scales its input (`unias.input_range`), when written. */
  readonly inputRange?: string;
  /** Every metadata_props entry as written. */
  readonly raw: Readonly<Record<string, string>>;
}

/** Typed values of an export's metadata_props; a missing required key or a malformed value is an error naming it. */
export function parseExportMetadata(raw: Metadata, source = 'model'): ExportedMetadata {
  const need = (key: string): string => {
    const v = raw[key];
    if (v === undefined) throw new ExportError(`${source}: metadata has no "${key}" (not a UniAS export?)`);
    return v;
  };
  const format = Number(need(METADATA_KEYS.format));
  if (!Number.isInteger(format) || format < 1)
    throw new ExportError(`${source}: metadata ${METADATA_KEYS.format} = "${raw[METADATA_KEYS.format]}" is not a version number`);
  if (format > EXPORT_FORMAT_VERSION)
    throw new ExportError(`${source}: metadata ${METADATA_KEYS.format} = ${format} is newer than this reader (${EXPORT_FORMAT_VERSION})`);
  need(METADATA_KEYS.inputSize);
  const inputSize = metadataInputSize(raw, source)!;
  const thresholds = metadataThresholds(raw, source);
  const classes = raw[METADATA_KEYS.classes];
  const precision = metadataPrecision(raw, source);
  let calibration: CalibrationInfo | undefined;
  const calibrated = raw[METADATA_KEYS.calibrationImages];
  if (calibrated !== undefined) {
    const images = Number(calibrated);
    if (!Number.isSafeInteger(images) || images < 1)
      throw new ExportError(`${source}: metadata ${METADATA_KEYS.calibrationImages} = "${calibrated}" is not a positive integer`);
    const calibrationSource = raw[METADATA_KEYS.calibrationSource];
    calibration = {
      images,
      method: raw[METADATA_KEYS.calibrationMethod] ?? 'unknown',
      ...(calibrationSource !== undefined ? { source: calibrationSource } : {}),
    };
  }
  const method = raw[METADATA_KEYS.method];
  const inputRange = raw[METADATA_KEYS.inputRange];
  return {
    format,
    inputSize,
    preset: need(METADATA_KEYS.preset),
    backbone: need(METADATA_KEYS.backbone),
    thresholds,
    classes: classes === undefined || classes === '' ? [] : classes.split(','),
    precision,
    ...(calibration ? { calibration } : {}),
    ...(method !== undefined ? { method } : {}),
    ...(inputRange !== undefined ? { inputRange } : {}),
    raw,
  };
}

/** `__metadata__.format` of a unias-layout safetensors model. */
export const UNIAS_MODEL_FORMAT = 'unias-model/1';

/** The `__metadata__` keys of a unias-layout file (values are strings; JSON where noted). */
export const UNIAS_METADATA_KEYS = {
  format: 'format',
  /** JSON of the ModelConfig. */
  config: 'config',
  preset: 'preset',
  backbone: 'backbone',
  /** "H,W". */
  inputSize: 'input_size',
  /** JSON { image?, pixel?, source? }. */
  thresholds: 'thresholds',
  /** JSON array of class names. */
  classes: 'classes',
} as const;

/** Whether a safetensors file's `__metadata__` is a unias-layout model's. */
export function isUniasModelMetadata(metadata: Metadata): boolean {
  return metadata[UNIAS_METADATA_KEYS.format] === UNIAS_MODEL_FORMAT;
}

/** The `__metadata__` of a unias-layout file of a model with this configuration (as given and resolved) and info. */
export function uniasModelMetadata(config: ModelConfig, resolved: Pick<ResolvedConfig, 'backbone' | 'inputSize'>, info: ModelInfo): Record<string, string> {
  const k = UNIAS_METADATA_KEYS;
  const metadata: Record<string, string> = {
    [k.format]: UNIAS_MODEL_FORMAT,
    [k.config]: JSON.stringify(config),
    [k.backbone]: resolved.backbone.id,
    [k.inputSize]: `${resolved.inputSize[0]},${resolved.inputSize[1]}`,
  };
  if (info.preset !== undefined) metadata[k.preset] = info.preset;
  if (info.thresholds !== undefined) metadata[k.thresholds] = JSON.stringify(info.thresholds);
  if (info.classes !== undefined) metadata[k.classes] = JSON.stringify(info.classes);
  return metadata;
}

/** What a unias-layout file's `__metadata__` says about its model. */
export interface UniasModelMetadata extends ModelInfo {
  readonly config: ModelConfig;
}

function parseJson(source: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ExportError(`${source}: __metadata__ "${key}" is not valid JSON (${(e as Error).message})`);
  }
}

/** Parses and checks a unias-layout file's `__metadata__` (the configuration is checked when the model is built). */
export function parseUniasModelMetadata(metadata: Metadata, source = 'safetensors'): UniasModelMetadata {
  const k = UNIAS_METADATA_KEYS;
  const m = metadata;
  const configText = m[k.config];
  if (configText === undefined) throw new ExportError(`${source}: a ${UNIAS_MODEL_FORMAT} file needs __metadata__ "${k.config}"`);
  const config = parseJson(source, k.config, configText);
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new ExportError(`${source}: __metadata__ "${k.config}" is not a JSON object`);
  const preset = m[k.preset];
  const t = m[k.thresholds] === undefined ? undefined : parseJson(source, k.thresholds, m[k.thresholds]!);
  if (t !== undefined && (typeof t !== 'object' || t === null || Array.isArray(t)))
    throw new ExportError(`${source}: __metadata__ "${k.thresholds}" is not a JSON object`);
  const classes = m[k.classes];
  const info: UniasModelMetadata = {
    config: config as ModelConfig,
    ...(preset !== undefined ? { preset } : {}),
    ...(t !== undefined ? { thresholds: t as Thresholds } : {}),
    ...(classes !== undefined ? { classes: parseJson(source, k.classes, classes) as string[] } : {}),
  };
  checkInfo(info, `${source}: __metadata__`);
  return info;
}

export type { CalibrationInfo, Precision } from './quantize/precision.js';
export { PRECISIONS, isPrecision } from './quantize/precision.js';
export type { ModelInfo, Thresholds } from './model-info.js';
