/**
 * The nearest-neighbour baseline every evaluation is compared with: a knn detector on the evaluated
 * model's own backbone (same weights), input size and input scaling, fitted on the same normal
 * training images and evaluated on the same test images. It is computed once and cached under the
 * user's cache folder, keyed by everything that determines it (configuration, backbone weights,
 * the image files' paths, sizes and modification times).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '@unias/datasets';
import { writeFileAtomic, type Backend, type TensorData } from '@unias/graph';
import { meanOverClasses, type MetricsReport, type MetricValues } from '@unias/metrics';
import { buildKnnEmbeddingGraph, resolveConfig, type ModelConfig } from '@unias/model';
import { stageProgress, type ProgressCallback } from './callbacks.js';
import { userCacheDir } from './cache-dir.js';
import { evaluate, withoutCurves } from './evaluate.js';
import { fitKnn, knnModelConfig, type KnnSettings } from './knn-fit.js';
import { createGraphPredictor } from '@unias/detector';
import { loadModelWeights } from './weights.js';

export type BaselineReport = Omit<MetricsReport, 'curves'>;

export interface BaselineResult {
  readonly report: BaselineReport;
  /** What the baseline is, in one line. */
  readonly description: string;
  readonly cached: boolean;
  readonly path: string;
}

export interface BaselineOptions {
  readonly backend: Backend;
  /** The evaluated model's configuration: its backbone, input size and scaling are used. */
  readonly model: ModelConfig;
  /** Every backbone parameter the embedding needs (from the model file or the bundled weights). */
  readonly backboneParams: ReadonlyMap<string, TensorData>;
  readonly train: readonly Sample[];
  readonly test: readonly Sample[];
  readonly knn: KnnSettings;
  readonly cacheDir?: string;
  readonly onProgress?: ProgressCallback;
}

async function filesKey(samples: readonly Sample[]): Promise<string[]> {
  return Promise.all(
    samples.map(async (s) => {
      const st = await stat(s.path).catch(() => null);
      return `${s.className}|${s.split}|${s.label}|${s.path}|${st?.size ?? -1}|${st?.mtimeMs ?? -1}|${s.maskPath ?? ''}`;
    }),
  );
}

/** The base configuration of a model without its method-specific parts. */
function backboneOf(model: ModelConfig): ModelConfig {
  const { method: _m, knn: _k, ...rest } = model;
  return rest;
}

export async function knnBaseline(o: BaselineOptions): Promise<BaselineResult> {
  const base = backboneOf(o.model);
  const config = knnModelConfig(base, o.knn);
  const resolved = resolveConfig(config);
  const embedGraph = buildKnnEmbeddingGraph(resolved);
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 2, backbone: resolved.backbone.id, inputSize: resolved.inputSize, norm: resolved.inputNormalization, knn: o.knn }));
  for (const name of [...embedGraph.params.keys()].sort()) {
    const t = o.backboneParams.get(name);
    if (!t) throw new Error(`baseline: backbone parameter "${name}" is missing`);
    h.update(name);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  h.update(JSON.stringify(await filesKey(o.train)));
  h.update(JSON.stringify(await filesKey(o.test)));
  const key = h.digest('hex').slice(0, 24);
  const path = join(o.cacheDir ?? join(userCacheDir(), 'baselines'), `knn-${key}.json`);
  const k = resolved.knn!;
  const description =
    `nearest normal patch (knn) on the same backbone: ${resolved.backbone.id} ${k.taps.map((t) => t.name).join('+')} at ${resolved.inputSize.join('x')}, ` +
    `one bank of ${o.knn.bankSize} patches per class (${o.knn.subsampling}), sigma ${k.sigma}`;
  const cached = await readFile(path, 'utf8')
    .then((t) => JSON.parse(t) as { report: BaselineReport; description: string })
    .catch(() => null);
  if (cached) return { report: cached.report, description: cached.description, cached: true, path };

  // One bank per class (PatchCore's protocol, and the strongest form of the baseline: no class's
  // patches crowd another's out of the bank).
  const classes = [...new Set(o.test.map((s) => s.className))].sort();
  const merged: { classes: Record<string, MetricValues>; thresholds: BaselineReport['thresholds']; counts: BaselineReport['counts']; warnings: string[] } = {
    classes: {},
    thresholds: {},
    counts: {},
    warnings: [],
  };
  let options: BaselineReport['options'] | null = null;
  for (const cls of classes) {
    const train = o.train.filter((s) => s.className === cls);
    const test = o.test.filter((s) => s.className === cls);
    if (train.length === 0) {
      merged.warnings.push(`class ${cls}: no normal training images, no baseline`);
      continue;
    }
    const fitted = await fitKnn({
      backend: o.backend,
      model: config,
      backboneParams: o.backboneParams,
      samples: train,
      knn: o.knn,
      onEmbed: stageProgress(o.onProgress, `baseline ${cls}: embed`, train.length),
    });
    const predictor = await createGraphPredictor({ backend: o.backend, config: fitted.config, params: fitted.params });
    try {
      const e = await evaluate({ predictor, samples: test, curvePoints: 0, onProgress: stageProgress(o.onProgress, `baseline ${cls}: eval`, test.length) });
      merged.classes[cls] = e.report.classes[cls]!;
      merged.thresholds[cls] = e.report.thresholds[cls]!;
      merged.counts[cls] = e.report.counts[cls]!;
      merged.warnings.push(...e.report.warnings);
      options = e.report.options;
    } finally {
      await predictor.dispose();
    }
  }
  const report: BaselineReport = {
    ...merged,
    mean: meanOverClasses(merged.classes, merged.warnings),
    options: options!,
  } as BaselineReport;
  await writeFileAtomic(path, `${JSON.stringify({ description, report }, null, 2)}\n`);
  return { report, description, cached: false, path };
}

export interface ModelBaselineOptions {
  /** The evaluated model: its configuration and (when it has them) its backbone parameters. */
  readonly model: ModelConfig;
  readonly params: ReadonlyMap<string, TensorData> | null;
  readonly train: readonly Sample[];
  readonly test: readonly Sample[];
  readonly knn: KnnSettings;
  readonly backend: Backend;
  readonly onProgress?: ProgressCallback;
  readonly cacheDir?: string;
}

/**
 * The baseline for an evaluated model, or why there is none (the model is itself a knn detector,
 * or its backbone weights are neither in the model nor bundled).
 */
export async function baselineForModel(o: ModelBaselineOptions): Promise<BaselineResult | { readonly skipped: string }> {
  if (o.model.method === 'knn') return { skipped: 'the model is the nearest-neighbour detector itself' };
  if (o.train.length === 0) return { skipped: 'no normal training images in the data' };
  const config = resolveConfig(knnModelConfig(backboneOf(o.model), o.knn));
  const needed = [...buildKnnEmbeddingGraph(config).params.keys()];
  let params = o.params;
  if (!params || needed.some((n) => !params!.has(n))) {
    try {
      params = (await loadModelWeights(config, { files: [] })).backbone;
    } catch (e) {
      return { skipped: `no backbone weights for it: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  return knnBaseline({ ...o, model: o.model, backboneParams: params });
}

export function isBaseline(r: BaselineResult | { readonly skipped: string }): r is BaselineResult {
  return 'report' in r;
}
