/**
 * The metadata_props of an exported ONNX file (docs/exported-model.md): written from a resolved
 * configuration and the model's info, and read back into typed values.
 */
import { readFile } from 'node:fs/promises';
import { preprocessingMetadata } from '@unias/image/contract';
import type { ResolvedConfig } from '@unias/model';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';
import { ExportError } from './errors.js';
import type { ModelInfo, Thresholds } from './model-info.js';
import { PRECISIONS, isPrecision, type CalibrationInfo, type Precision } from './quantize/precision.js';

/** Version of the exported-model contract this package writes. */
export const EXPORT_FORMAT_VERSION = 1;

export const METADATA_KEYS = {
  format: 'unias.format',
  inputSize: 'unias.input_size',
  preset: 'unias.preset',
  backbone: 'unias.backbone',
  thresholdImage: 'unias.threshold.image',
  thresholdPixel: 'unias.threshold.pixel',
  thresholdSource: 'unias.threshold.source',
  classes: 'unias.classes',
  method: 'unias.method',
  inputRange: 'unias.input_range',
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
  /** Every metadata_props entry as written. */
  readonly raw: Readonly<Record<string, string>>;
}

/** Typed values of an export's metadata_props; a missing required key or a malformed value is an error naming it. */
export function parseExportMetadata(raw: Readonly<Record<string, string>>, source = 'model'): ExportedMetadata {
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
  const size = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(need(METADATA_KEYS.inputSize));
  if (!size) throw new ExportError(`${source}: metadata ${METADATA_KEYS.inputSize} = "${raw[METADATA_KEYS.inputSize]}" is not "H,W"`);
  if (![size[1], size[2]].every((d) => Number.isSafeInteger(Number(d)) && Number(d) > 0)) {
    throw new ExportError(`${source}: metadata ${METADATA_KEYS.inputSize} = "${raw[METADATA_KEYS.inputSize]}" is not two positive integers`);
  }
  const number = (key: string): number | undefined => {
    const v = raw[key];
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ExportError(`${source}: metadata ${key} = "${v}" is not a finite number`);
    return n;
  };
  const image = number(METADATA_KEYS.thresholdImage);
  const pixel = number(METADATA_KEYS.thresholdPixel);
  const thresholdSource = raw[METADATA_KEYS.thresholdSource];
  const classes = raw[METADATA_KEYS.classes];
  const precision = raw[METADATA_KEYS.precision] ?? 'float32';
  if (!isPrecision(precision)) throw new ExportError(`${source}: metadata ${METADATA_KEYS.precision} = "${precision}" is not one of ${PRECISIONS.join(', ')}`);
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
  return {
    format,
    inputSize: [Number(size[1]), Number(size[2])],
    preset: need(METADATA_KEYS.preset),
    backbone: need(METADATA_KEYS.backbone),
    thresholds: {
      ...(image !== undefined ? { image } : {}),
      ...(pixel !== undefined ? { pixel } : {}),
      ...(thresholdSource !== undefined ? { source: thresholdSource } : {}),
    },
    classes: classes === undefined || classes === '' ? [] : classes.split(','),
    precision,
    ...(calibration ? { calibration } : {}),
    raw,
  };
}

/** metadata_props of an ONNX model (bytes or a path), as a record. */
export async function readOnnxMetadataProps(model: Uint8Array | string): Promise<Record<string, string>> {
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = await readFile(model);
    } catch (e) {
      throw new ExportError(`cannot read ONNX model ${model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    bytes = model;
  }
  let decoded: OnnxNamespace.ModelProto;
  try {
    decoded = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ExportError(`${typeof model === 'string' ? model : 'model'}: not an ONNX model (${(e as Error).message})`);
  }
  const out: Record<string, string> = {};
  for (const p of decoded.metadataProps) out[p.key ?? ''] = p.value ?? '';
  return out;
}

/** The typed metadata of an exported ONNX file. */
export async function readExportMetadata(model: Uint8Array | string): Promise<ExportedMetadata> {
  return parseExportMetadata(await readOnnxMetadataProps(model), typeof model === 'string' ? model : 'model');
}
