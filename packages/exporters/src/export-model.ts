/**
 * One entry point for `unias export`: the format picks the exporter; options the format does not
 * use are ignored, an unknown format or layout is an error listing the known ones.
 */
import { ExportError } from './errors.js';
import type { ExportableModel, ModelInfo } from './model-info.js';
import { writeOnnxExport } from './onnx-export.js';
import type { ProgressCallback } from './progress.js';
import type { CalibrationImages } from './quantize/calibrate.js';
import type { Precision } from './quantize/precision.js';
import { writeSafetensorsExport, type SafetensorsLayout, type WeightDType } from './safetensors-export.js';
import { writeTritonExport, type InstanceKind } from './triton.js';

export const EXPORT_FORMATS = ['onnx', 'triton', 'safetensors'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportModelOptions {
  readonly model: ExportableModel;
  readonly format: ExportFormat;
  /** onnx / safetensors: the file; triton: the model repository folder. */
  readonly out: string;
  /** Preset, thresholds and classes on top of the model's own. */
  readonly metadata?: ModelInfo;
  readonly onProgress?: ProgressCallback;
  /** onnx: float32 (default) or int8 (static QDQ; needs `calibration`). */
  readonly precision?: Precision;
  /** onnx, int8: normal training images to calibrate activation ranges on. */
  readonly calibration?: CalibrationImages;
  /** safetensors: 'unias' (default; reloadable with its configuration) or 'official'. */
  readonly layout?: SafetensorsLayout;
  /** safetensors: F32 (default), F16 or BF16. */
  readonly dtype?: WeightDType;
  /** safetensors, official layout: refuse unless every state_dict key has a value. */
  readonly requireComplete?: boolean;
  /** triton: the model's name (default "unias"). */
  readonly name?: string;
  readonly version?: number;
  readonly maxBatchSize?: number;
  readonly maxQueueDelayMicroseconds?: number;
  readonly instanceKind?: InstanceKind;
  readonly instanceCount?: number;
  readonly gpus?: readonly number[];
  /** triton: replace an existing model folder. */
  readonly overwrite?: boolean;
}

export interface ExportResult {
  readonly format: ExportFormat;
  /** Files written. */
  readonly files: readonly string[];
  /** The metadata written (ONNX metadata_props, or the safetensors `__metadata__`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** safetensors: official keys the model held no value for. */
  readonly missing?: readonly string[];
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export async function exportModel(o: ExportModelOptions): Promise<ExportResult> {
  const format: string = o.format;
  const common = defined({ model: o.model, out: o.out, metadata: o.metadata, onProgress: o.onProgress });
  if (!o.model || !o.out) throw new ExportError('exportModel: model and out are required');
  if (format !== 'onnx' && ((o.precision !== undefined && o.precision !== 'float32') || o.calibration)) {
    throw new ExportError(`precision ${o.precision ?? 'int8'} applies to format onnx only, not ${format}`);
  }
  switch (format) {
    case 'onnx': {
      const r = await writeOnnxExport({ ...common, ...defined({ precision: o.precision, calibration: o.calibration }), model: o.model, out: o.out });
      return { format, files: [o.out], metadata: r.metadata };
    }
    case 'triton': {
      const r = await writeTritonExport({
        ...common,
        model: o.model,
        out: o.out,
        ...defined({
          name: o.name,
          version: o.version,
          maxBatchSize: o.maxBatchSize,
          maxQueueDelayMicroseconds: o.maxQueueDelayMicroseconds,
          instanceKind: o.instanceKind,
          instanceCount: o.instanceCount,
          gpus: o.gpus,
          overwrite: o.overwrite,
        }),
      });
      return { format, files: r.files, metadata: r.metadata };
    }
    case 'safetensors': {
      const r = await writeSafetensorsExport({
        ...common,
        model: o.model,
        out: o.out,
        ...defined({ layout: o.layout, dtype: o.dtype, requireComplete: o.requireComplete }),
      });
      return { format, files: [r.path], metadata: r.metadata, missing: r.missing };
    }
    default:
      throw new ExportError(`unknown export format ${JSON.stringify(format)}; known: ${EXPORT_FORMATS.join(', ')}`);
  }
}

export function isExportFormat(s: string): s is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(s);
}
