/**
 * `pnpm --filter @unias/cli bench:int8 RUN_DIR [RUN_DIR ...]`: int8 and fp16 against float32 exports
 * of the same model, measured in the same run (docs/benchmarks.md#int8-and-fp16-export).
 *
 * For each trained run directory: both exports are made as `unias export` makes them (int8
 * calibrated on BENCH_CAL_IMAGES train/good images of the run's own data, BENCH_CAL_METHOD minmax or
 * percentile, default minmax), evaluated on the
 * test split of that data with `unias eval`'s evaluation (pixel AP, pixel AUROC, image AUROC and
 * their change), and timed. For each preset of BENCH_PRESETS (default cpu,paper) the pipeline is
 * timed with random weights (time does not depend on the values), calibrated on BENCH_CAL_DATA
 * (default ../shared/datasets/ksdd) train/good images.
 *
 * Timing: batch 1, BENCH_THREADS intra-op threads (default 2), graph optimisation "all" (as predict
 * and the server use it), the precisions' runs interleaved so that load from other work on the
 * machine falls on all alike; the median of BENCH_RUNS runs (default 20) each. JSON to stdout and
 * bench-results/int8.json (BENCH_OUT another name there).
 */
import { cpus, loadavg } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { buildOnnxModel, buildQuantizedOnnxModel, loadModelFiles, type CalibrationMethod, type ExportableModel, type OnnxModel } from '@unias/exporters';
import { createRng, initParams, writeFileAtomic } from '@unias/graph';
import { PRESETS, buildInferenceGraph, resolveConfig, type PresetName } from '@unias/model';
import * as ort from 'onnxruntime-node';
import { loadCalibrationSet, runDataRoots, loadData, evaluate } from '@unias/engine';
import { modelFileOf, openPredictor } from '@unias/detector';

const repo = resolve(import.meta.dirname, '../../..');
const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const threads = Number(env('BENCH_THREADS', '2'));
const runs = Number(env('BENCH_RUNS', '20'));
const calImages = Number(env('BENCH_CAL_IMAGES', '32'));
const calMethod = env('BENCH_CAL_METHOD', 'minmax') as CalibrationMethod;
const outDir = join(repo, 'bench-results', 'int8');
const outFile = join(repo, 'bench-results', env('BENCH_OUT', 'int8.json'));
const runDirs = process.argv.slice(2).map((p) => resolve(process.env['INIT_CWD'] ?? process.cwd(), p));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Median ms per image of each session at batch 1, runs interleaved. */
async function timeSideBySide(models: Record<string, Uint8Array>, size: readonly [number, number]): Promise<Record<string, number>> {
  const sessions = Object.fromEntries(
    await Promise.all(
      Object.entries(models).map(
        async ([k, bytes]) =>
          [k, await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' })] as const,
      ),
    ),
  );
  const image = createRng(1).fillUniform(new Float32Array(3 * size[0] * size[1]), 0, 1);
  const feed = { image: new ort.Tensor('float32', image, [1, 3, size[0], size[1]]) };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(sessions).map((k) => [k, []]));
  try {
    for (const s of Object.values(sessions)) for (let i = 0; i < 2; i++) await s.run(feed);
    for (let r = 0; r < runs; r++) {
      for (const [k, s] of Object.entries(sessions)) {
        const t0 = performance.now();
        await s.run(feed);
        times[k]!.push(performance.now() - t0);
      }
    }
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
  return Object.fromEntries(Object.entries(times).map(([k, t]) => [k, +t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!.toFixed(2)]));
}

async function exportsOf(
  model: ExportableModel,
  roots: readonly string[],
  name: string,
): Promise<{ float32: OnnxModel; int8: OnnxModel; fp16: OnnxModel; calibration: string }> {
  const size = resolveConfig(model.config).inputSize;
  const set = await loadCalibrationSet(roots, calImages, size);
  const float32 = buildOnnxModel({ model });
  const t0 = performance.now();
  const int8 = await buildQuantizedOnnxModel({ model, precision: 'int8', calibration: { images: set.images, source: set.source, method: calMethod, threads } });
  log(`${name}: int8 export ${((performance.now() - t0) / 1000).toFixed(1)} s (${set.source})`);
  const fp16 = await buildQuantizedOnnxModel({ model, precision: 'fp16' });
  return { float32, int8, fp16, calibration: set.source };
}

const METRICS = ['pixel_ap', 'pixel_auroc', 'image_auroc'] as const;
const models: Record<string, unknown>[] = [];
for (const dir of runDirs) {
  const file = await modelFileOf(dir);
  const roots = await runDataRoots(dir);
  if (!file || !roots) throw new Error(`${dir}: not a run directory with model.safetensors and run.json`);
  const model = await loadModelFiles([file]);
  const name = basename(dir);
  const { float32, int8, fp16, calibration } = await exportsOf(model, roots, name);
  await mkdir(outDir, { recursive: true });
  const accuracy: Record<string, Record<string, number>> = {};
  const { dataset } = await loadData({ roots, format: 'auto', classes: null });
  const test = dataset.samples.filter((s) => s.split === 'test');
  for (const [precision, built] of Object.entries({ float32, int8, fp16 })) {
    const path = join(outDir, `${name}.${precision}.onnx`);
    await writeFileAtomic(path, built.bytes);
    // one thread for accuracy (a shared machine); timing below uses BENCH_THREADS
    const predictor = await openPredictor(path, { backend: 'onnx', threads: 1, device: 'cpu' });
    try {
      const mean = (await evaluate({ predictor, samples: test, curvePoints: 0 })).report.mean;
      accuracy[precision] = Object.fromEntries(METRICS.map((k) => [k, +(mean[k] ?? NaN).toFixed(4)]));
    } finally {
      await predictor.dispose();
    }
    log(`${name} ${precision}: ${JSON.stringify(accuracy[precision])}`);
  }
  const ms = await timeSideBySide({ float32: float32.bytes, int8: int8.bytes, fp16: fp16.bytes }, float32.config.inputSize);
  log(`${name}: ${JSON.stringify(ms)} ms/img`);
  models.push({
    run: dir,
    data: roots,
    preset: model.preset ?? 'custom',
    backbone: float32.config.backbone.id,
    inputSize: float32.config.inputSize,
    calibration,
    testImages: test.length,
    accuracy,
    deltaPoints: Object.fromEntries(
      (['int8', 'fp16'] as const).map((p) => [
        p,
        Object.fromEntries(METRICS.map((k) => [k, +((accuracy[p]![k]! - accuracy['float32']![k]!) * 100).toFixed(2)])),
      ]),
    ),
    msPerImage: ms,
    speedup: { int8: +(ms['float32']! / ms['int8']!).toFixed(2), fp16: +(ms['float32']! / ms['fp16']!).toFixed(2) },
    megabytes: Object.fromEntries(Object.entries({ float32, int8, fp16 }).map(([k, b]) => [k, +(b.bytes.byteLength / 1e6).toFixed(1)])),
    quantized: int8.quantized,
  });
}

const presets: Record<string, unknown>[] = [];
const calData = resolve(repo, env('BENCH_CAL_DATA', '../shared/datasets/ksdd'));
for (const preset of env('BENCH_PRESETS', 'cpu,paper').split(',').filter(Boolean) as PresetName[]) {
  const config = PRESETS[preset];
  const graph = buildInferenceGraph(resolveConfig(config));
  const model: ExportableModel = { config, params: initParams(graph, 0), preset };
  const { float32, int8, fp16 } = await exportsOf(model, [calData], preset);
  const ms = await timeSideBySide({ float32: float32.bytes, int8: int8.bytes, fp16: fp16.bytes }, float32.config.inputSize);
  log(`${preset}: ${JSON.stringify(ms)} ms/img`);
  presets.push({
    preset,
    backbone: float32.config.backbone.id,
    inputSize: float32.config.inputSize,
    weights: 'random (initParams seed 0)',
    msPerImage: ms,
    speedup: { int8: +(ms['float32']! / ms['int8']!).toFixed(2), fp16: +(ms['float32']! / ms['fp16']!).toFixed(2) },
  });
}

const report = {
  bench: 'int8-export',
  date: new Date().toISOString(),
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  loadavgAtEnd: loadavg().map((l) => +l.toFixed(2)),
  node: process.version,
  onnxruntime: ort.env.versions?.common,
  timing: { batch: 1, threads, runs, statistic: 'median, precisions interleaved' },
  calibration: { images: calImages, method: calMethod, from: 'train/good' },
  models,
  presets,
};
const text = `${JSON.stringify(report, null, 2)}\n`;
await writeFileAtomic(outFile, text);
process.stdout.write(text);
