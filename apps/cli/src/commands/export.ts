import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import {
  CALIBRATION_METHODS,
  EXPORT_FORMATS,
  PRECISIONS,
  SAFETENSORS_LAYOUTS,
  WEIGHT_DTYPES,
  exportModel,
  isExportFormat,
  isPrecision,
  loadModelFiles,
  type CalibrationImages,
  type CalibrationMethod,
  type LoadedModel,
  type ModelInfo,
  type SafetensorsLayout,
  type WeightDType,
} from '@unias/exporters';
import { PRESET_NAMES, isPresetName, resolveConfig, type ModelConfig } from '@unias/model';
import type { Command } from '../command.js';
import { flag, list, num, parse, requireStr, str } from '../args.js';
import { UsageError, UserError } from '../errors.js';
import { suggestion, loadCalibrationSet, runDataRoots } from '@unias/engine';
import { modelFileOf } from '@unias/detector';

/** Calibration images by default: enough for stable ranges, few enough to take seconds. */
const DEFAULT_CALIBRATION_IMAGES = 32;

const USAGE = `usage: unias export --model RUN_DIR|MODEL.safetensors --format F --out PATH [options]
       unias export --preset P [--backbone ID] --weights FILE [--weights FILE ...] --format F --out PATH

Exports a model with @unias/exporters:
  onnx          one ONNX file with the whole pipeline (image [N,3,H,W] in [0,1] -> anomaly_map, score;
                docs/exported-model.md), thresholds and classes in metadata_props
  triton        a Triton / KServe model repository entry: OUT/NAME/config.pbtxt + OUT/NAME/1/model.onnx
  safetensors   weights, --layout unias (default: reloadable, configuration in the metadata) or
                official (the official code's state_dict keys and num_batches_tracked buffers)

model:
  --model PATH          a run directory or a unias-layout .safetensors model
  --weights FILE        official-layout weights by name (repeatable, e.g. backbone and head files)
  --preset NAME         the configuration of --weights files (${PRESET_NAMES.join(', ')})
  --backbone ID         override the preset's backbone
  --input-size N        override the input size (the head's weights are tied to the query grid)
  --set KEY=VALUE       override any other model field (e.g. --set convDim=64; repeatable)
output:
  --format F            ${EXPORT_FORMATS.join(' | ')}
  --out PATH            the file (onnx, safetensors) or the repository folder (triton)
  --layout L            safetensors: unias | official
  --dtype T             safetensors: F32 (default) | F16 | BF16
  --require-complete    safetensors official: refuse unless every state_dict key has a value
  --name NAME           triton: model name (default unias)
  --max-batch-size N    triton: max_batch_size (default 8)
  --instance-kind K     triton: cpu | gpu
  --overwrite           triton: replace an existing model folder
precision (onnx; docs/benchmarks.md#int8-and-fp16-export):
  --precision P         ${PRECISIONS.join(' | ')} (default float32). int8: static QDQ quantisation
                        (int8 weights per channel, uint8 activations) calibrated on normal training
                        images; fp16: float16 weights (half the file), float32 arithmetic; inputs
                        and outputs stay float32
  --calibration-data DIR  int8: dataset root(s) whose train/good images calibrate (repeatable;
                        default: the run directory's own training data)
  --calibration-images N  int8: images to calibrate on (default ${DEFAULT_CALIBRATION_IMAGES})
  --calibration-method M  int8: ${CALIBRATION_METHODS.join(' | ')} (default minmax)
metadata (on top of the model's own):
  --threshold X         pixel threshold       --image-threshold X   image-score threshold
  --classes A,B         class names`;

const OPTIONS = {
  model: { type: 'string' },
  weights: { type: 'string', multiple: true },
  preset: { type: 'string' },
  backbone: { type: 'string' },
  'input-size': { type: 'string' },
  set: { type: 'string', multiple: true },
  format: { type: 'string' },
  out: { type: 'string' },
  layout: { type: 'string' },
  dtype: { type: 'string' },
  'require-complete': { type: 'boolean' },
  name: { type: 'string' },
  'max-batch-size': { type: 'string' },
  'instance-kind': { type: 'string' },
  overwrite: { type: 'boolean' },
  threshold: { type: 'string' },
  'image-threshold': { type: 'string' },
  classes: { type: 'string' },
  quiet: { type: 'boolean' },
  precision: { type: 'string' },
  'calibration-data': { type: 'string', multiple: true },
  'calibration-images': { type: 'string' },
  'calibration-method': { type: 'string' },
} as const;

function overridesOf(backbone: string | undefined, inputSize: number | undefined, sets: readonly string[]): Partial<ModelConfig> {
  const out: Record<string, unknown> = {};
  if (backbone !== undefined) out['backbone'] = backbone;
  if (inputSize !== undefined) out['inputSize'] = inputSize;
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${s}"`);
    const key = s
      .slice(0, eq)
      .trim()
      .replace(/^model\./, '');
    const raw = s.slice(eq + 1);
    const n = Number(raw);
    out[key] = raw === 'true' ? true : raw === 'false' ? false : raw.trim() !== '' && Number.isFinite(n) ? n : raw;
  }
  return out as Partial<ModelConfig>;
}

export const command: Command = {
  name: 'export',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS);
    const format = requireStr(args, 'format');
    if (!isExportFormat(format))
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"${suggestion(format, EXPORT_FORMATS)}`);
    const out = resolve(requireStr(args, 'out'));
    const layout = str(args, 'layout');
    if (layout !== undefined && !(SAFETENSORS_LAYOUTS as readonly string[]).includes(layout))
      throw new UsageError(`--layout must be one of ${SAFETENSORS_LAYOUTS.join(', ')}, got "${layout}"`);
    if (layout !== undefined && format !== 'safetensors') throw new UsageError('--layout applies to --format safetensors only');
    const dtype = str(args, 'dtype');
    if (dtype !== undefined && !(WEIGHT_DTYPES as readonly string[]).includes(dtype))
      throw new UsageError(`--dtype must be one of ${WEIGHT_DTYPES.join(', ')}, got "${dtype}"`);
    const kind = str(args, 'instance-kind');
    if (kind !== undefined && kind !== 'cpu' && kind !== 'gpu') throw new UsageError(`--instance-kind must be cpu or gpu, got "${kind}"`);
    const precision = str(args, 'precision') ?? 'float32';
    if (!isPrecision(precision))
      throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got "${precision}"${suggestion(precision, PRECISIONS)}`);
    if (precision !== 'float32' && format !== 'onnx') throw new UsageError(`--precision ${precision} applies to --format onnx only`);
    const calibrationMethod = str(args, 'calibration-method');
    if (calibrationMethod !== undefined && !(CALIBRATION_METHODS as readonly string[]).includes(calibrationMethod)) {
      throw new UsageError(`--calibration-method must be one of ${CALIBRATION_METHODS.join(', ')}, got "${calibrationMethod}"`);
    }
    const calibrationCount = num(args, 'calibration-images', { int: true, min: 1 });
    const calibrationRoots = list(args, 'calibration-data').map((d) => resolve(d));
    if (precision !== 'int8' && (calibrationMethod !== undefined || calibrationCount !== undefined || calibrationRoots.length > 0)) {
      throw new UsageError('--calibration-data, --calibration-images and --calibration-method apply to --precision int8 only');
    }
    const modelArg = str(args, 'model');
    const weights = list(args, 'weights').map((w) => resolve(w));
    const preset = str(args, 'preset');
    if (preset !== undefined && !isPresetName(preset)) throw new UsageError(`unknown preset "${preset}"${suggestion(preset, PRESET_NAMES)}`);
    if (!modelArg && weights.length === 0) throw new UsageError('give --model RUN_DIR|MODEL.safetensors, or --weights FILE (with --preset)');
    if (modelArg && weights.length > 0) throw new UsageError('give --model or --weights, not both');
    const overrides = overridesOf(str(args, 'backbone'), num(args, 'input-size', { int: true, min: 16 }), list(args, 'set'));

    let files = weights;
    if (modelArg) {
      const f = await modelFileOf(modelArg);
      if (!f) throw new UserError(`${modelArg}: no UniAS model here (expected a run directory with model.safetensors, or a .safetensors model)`);
      files = [f];
    }
    const quiet = flag(args, 'quiet');
    const onProgress = quiet
      ? undefined
      : (p: { step: number; steps: number; message: string }) => process.stderr.write(`[${p.step}/${p.steps}] ${p.message}\n`);
    let model: LoadedModel;
    try {
      model = await loadModelFiles(files, {
        ...(preset !== undefined ? { preset } : {}),
        ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
    } catch (e) {
      throw new UserError((e as Error).message.split('\n')[0]!);
    }
    const pixel = num(args, 'threshold');
    const image = num(args, 'image-threshold');
    const classes = str(args, 'classes')
      ?.split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    const metadata: ModelInfo = {
      ...(pixel !== undefined || image !== undefined
        ? {
            thresholds: {
              ...model.thresholds,
              ...(pixel !== undefined ? { pixel } : {}),
              ...(image !== undefined ? { image } : {}),
              source: 'given to unias export',
            },
          }
        : {}),
      ...(classes ? { classes } : {}),
    };
    let calibration: CalibrationImages | undefined;
    if (precision === 'int8') {
      let roots = calibrationRoots;
      if (roots.length === 0 && modelArg && (await stat(modelArg).catch(() => null))?.isDirectory()) roots = (await runDataRoots(resolve(modelArg))) ?? [];
      if (roots.length === 0)
        throw new UsageError(
          '--precision int8 needs --calibration-data DIR (a dataset root whose train/good images calibrate), or --model RUN_DIR whose run.json names its data',
        );
      const set = await loadCalibrationSet(roots, calibrationCount ?? DEFAULT_CALIBRATION_IMAGES, resolveConfig(model.config).inputSize);
      if (!quiet) process.stderr.write(`int8 calibration: ${set.source}\n`);
      calibration = { images: set.images, source: set.source, method: (calibrationMethod as CalibrationMethod | undefined) ?? 'minmax' };
    }
    let result;
    try {
      result = await exportModel({
        model,
        format,
        out,
        metadata,
        ...(onProgress ? { onProgress } : {}),
        ...(precision !== 'float32' ? { precision } : {}),
        ...(calibration ? { calibration } : {}),
        ...(layout !== undefined ? { layout: layout as SafetensorsLayout } : {}),
        ...(dtype !== undefined ? { dtype: dtype as WeightDType } : {}),
        ...(flag(args, 'require-complete') ? { requireComplete: true } : {}),
        ...(str(args, 'name') !== undefined ? { name: str(args, 'name')! } : {}),
        ...(num(args, 'max-batch-size', { int: true, min: 1 }) !== undefined ? { maxBatchSize: num(args, 'max-batch-size', { int: true, min: 1 })! } : {}),
        ...(kind !== undefined ? { instanceKind: kind } : {}),
        ...(flag(args, 'overwrite') ? { overwrite: true } : {}),
      });
    } catch (e) {
      throw new UserError((e as Error).message.split('\n')[0]!);
    }
    process.stdout.write(`${result.files.join('\n')}\n`);
    if (result.missing && result.missing.length > 0 && !quiet) {
      process.stderr.write(
        `note: ${result.missing.length} official state_dict keys have no value (the pruned backbone's unused layers), e.g. ${result.missing[0]}\n`,
      );
    }
  },
};
