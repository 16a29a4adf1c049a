import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { flag, list, num, parse, requireStr, str } from '../args.js';
import { UsageError, UserError } from '../errors.js';
import {
  DATA_FORMATS,
  type BackendName,
  type DataFormat,
  loadData,
  RUN_JSON,
  fmt,
  type RunRecord,
  baselineForModel,
  isBaseline,
  type BaselineResult,
  KNN_DEFAULTS,
  type KnnSettings,
} from '@unias/engine';
import { evaluateAndReport } from '../report/eval-report.js';
import { progressBars } from '../progress.js';
import { createDetector, loadStoredModel, modelFileOf, openBackend, updateThresholds } from '@unias/detector';
import { comparisonTable, metricsTable } from '../report/table.js';
import type { Sample } from '@unias/datasets';
import { presetConfig, type InputRange, type ModelConfig } from '@unias/model';
import { readExportMetadata } from '@unias/exporters';
import type { DeviceRequest } from '@unias/backend-onnx';
import { backendArg, deviceArg } from './runtime-args.js';

const USAGE = `usage: unias eval --model RUN_DIR|MODEL.safetensors|FILE.onnx [--data DIR ...] [options]

Evaluates a model on the test split of the datasets (default: the data the run was trained on):
prints the per-class and mean metrics, writes metrics.json (the same keys as \`unias metrics\`) and
report.html (one self-contained file: table, PR/ROC/PRO curves, best/median/worst images per class).

  --model PATH         a run directory, a model .safetensors (unias layout) or an exported .onnx file
  --data DIR           dataset root (repeatable); MVTec-AD or VisA layout
  --format F           auto | mvtec | visa
  --classes A,B        only these classes
  --out DIR            where metrics.json and report.html go (default RUN_DIR/eval, else runs/eval)
  --backend B          onnx (default) | tfjs (for run directories and .safetensors models)
  --device D           auto (default; says which and why) | cpu | webgpu | cuda (docs/devices.md)
  --batch N            images per inference run (default 8)
  --threshold X        pixel threshold for the drawn masks (default: the model's, else each class's DSC threshold)
  --save-thresholds    store thresholds from this labelled set in the model file: the F1-max threshold of
                       the image scores and the DSC threshold of the pixel scores, pooled over classes
  --no-baseline        skip the nearest-neighbour baseline (by default a knn detector on the model's own
                       backbone, input size and data is evaluated once, cached, and shown beside it)
  --no-report          metrics only
  --json               print metrics.json to stdout instead of the table
  --threads N          onnxruntime threads`;

const OPTIONS = {
  model: { type: 'string' },
  data: { type: 'string', multiple: true },
  format: { type: 'string' },
  classes: { type: 'string' },
  out: { type: 'string' },
  backend: { type: 'string' },
  device: { type: 'string' },
  batch: { type: 'string' },
  threshold: { type: 'string' },
  'save-thresholds': { type: 'boolean' },
  'no-report': { type: 'boolean' },
  'no-baseline': { type: 'boolean' },
  json: { type: 'boolean' },
  threads: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

async function runRecordOf(modelPath: string): Promise<RunRecord | null> {
  for (const dir of [resolve(modelPath), resolve(modelPath, '..')]) {
    try {
      return JSON.parse(await readFile(join(dir, RUN_JSON), 'utf8')) as RunRecord;
    } catch {
      // not a run directory
    }
  }
  return null;
}

export const command: Command = {
  name: 'eval',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS);
    const model = requireStr(args, 'model');
    const backend = backendArg(str(args, 'backend'));
    const device = deviceArg(str(args, 'device'));
    const log = flag(args, 'quiet') ? undefined : (l: string) => process.stderr.write(`${l}\n`);
    const format = (str(args, 'format') ?? 'auto') as DataFormat;
    if (!(DATA_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${DATA_FORMATS.join(', ')}, got "${format}"`);
    const threshold = num(args, 'threshold');
    const batch = num(args, 'batch', { int: true, min: 1 });
    const threads = num(args, 'threads', { int: true, min: 1 });
    const classes =
      str(args, 'classes')
        ?.split(',')
        .map((c) => c.trim())
        .filter(Boolean) ?? null;
    let roots = list(args, 'data').map((d) => resolve(d));
    const record = await runRecordOf(model);
    if (roots.length === 0) {
      if (!record) throw new UsageError('--data is required (the model is not in a run directory that names its data)');
      roots = [...record.settings.data.roots];
    }
    const saveThresholds = flag(args, 'save-thresholds');
    const modelFile = await modelFileOf(model);
    if (saveThresholds && !modelFile) throw new UsageError('--save-thresholds needs a run directory or a .safetensors model (an .onnx file is not rewritten)');

    const { dataset } = await loadData({ roots, format, classes });
    const test = dataset.samples.filter((s) => s.split === 'test');
    if (test.length === 0) throw new UserError(`no test images in ${roots.join(', ')}`);
    // opened as `unias predict` opens it; the evaluation loop batches at the model's input size
    // against masks at that size, so it runs the detector's predictor, not detect()
    const detector = await createDetector(model, {
      backend,
      ...(threads !== undefined ? { threads } : {}),
      ...(device ? { device } : {}),
      ...(log ? { log } : {}),
    });
    const predictor = detector.predictor;
    let baseline: BaselineResult | null = null;
    if (!flag(args, 'no-baseline')) {
      const b = await modelBaseline({
        modelPath: model,
        modelFile,
        knn: record?.settings.knn ?? KNN_DEFAULTS,
        train: dataset.samples.filter((s) => s.split === 'train' && s.label === 0),
        test,
        backend,
        device: device ?? 'auto',
        threads: threads ?? null,
        progress: !flag(args, 'quiet'),
      });
      if (isBaseline(b)) baseline = b;
      else process.stderr.write(`no nearest-neighbour baseline: ${b.skipped}\n`);
    }
    const outDir = resolve(str(args, 'out') ?? (modelFile && record ? join(modelFile, '..', 'eval') : join('runs', 'eval')));
    try {
      const r = await evaluateAndReport({
        predictor,
        samples: test,
        outDir,
        datasetDescription: dataset.description,
        report: !flag(args, 'no-report'),
        pooledThresholds: saveThresholds,
        progress: !flag(args, 'quiet'),
        ...(threshold !== undefined ? { threshold } : {}),
        ...(batch !== undefined ? { batchSize: batch } : {}),
        ...(baseline ? { baseline } : {}),
      });
      if (flag(args, 'json')) {
        process.stdout.write(await readFile(r.metricsPath, 'utf8'));
      } else {
        process.stdout.write(`${metricsTable(r.evaluation.report)}\n`);
        if (baseline) {
          process.stdout.write(
            `\nagainst the ${baseline.description}${baseline.cached ? ' (cached)' : ''}:\n${comparisonTable(r.evaluation.report, baseline.report)}\n`,
          );
        }
        if (r.evaluation.report.warnings.length > 0) process.stdout.write(`${r.evaluation.report.warnings.length} warning(s), see metrics.json\n`);
        process.stdout.write(`metrics: ${r.metricsPath}\n${r.reportPath ? `report: ${r.reportPath}\n` : ''}`);
      }
      if (saveThresholds && modelFile) {
        const p = r.evaluation.pooled!;
        await updateThresholds(modelFile, {
          image: p.imageF1Threshold,
          pixel: p.dscThreshold,
          source: `F1-max threshold of the image scores and DSC threshold (argmax precision + recall) of the pixel scores of ${test.length} labelled test images of ${roots.join(', ')}`,
        });
        process.stderr.write(`thresholds saved in ${modelFile}: image ${fmt(p.imageF1Threshold, 4)}, pixel ${fmt(p.dscThreshold, 4)}\n`);
      }
    } finally {
      await detector.dispose();
    }
  },
};

/** The baseline for the model at `modelPath` (run directory, .safetensors or .onnx). */
async function modelBaseline(o: {
  modelPath: string;
  modelFile: string | null;
  knn: KnnSettings;
  train: readonly Sample[];
  test: readonly Sample[];
  backend: BackendName;
  device: DeviceRequest;
  threads: number | null;
  progress: boolean;
}): ReturnType<typeof baselineForModel> {
  let config: ModelConfig;
  let params = null;
  if (o.modelFile) {
    const stored = await loadStoredModel(o.modelFile);
    config = stored.modelConfig;
    params = stored.params;
  } else {
    const meta = await readExportMetadata(resolve(o.modelPath)).catch(() => null);
    if (!meta) return { skipped: 'the ONNX file has no UniAS metadata' };
    if (meta.method === 'knn') return { skipped: 'the model is the nearest-neighbour detector itself' };
    config = {
      ...presetConfig('cpu'),
      backbone: meta.backbone,
      inputSize: meta.inputSize,
      inputRange: (meta.inputRange ?? 'backbone') as InputRange,
    };
  }
  const backend = await openBackend(o.backend, { threads: o.threads, device: o.device });
  const bars = o.progress ? progressBars() : null;
  try {
    return await baselineForModel({
      model: config,
      params,
      train: o.train,
      test: o.test,
      knn: o.knn,
      backend,
      ...(bars ? { onProgress: bars.onProgress } : {}),
    });
  } finally {
    bars?.close();
  }
}
