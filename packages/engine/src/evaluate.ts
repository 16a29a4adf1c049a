/**
 * Evaluation of a predictor on labelled test images: the @unias/metrics report per class and the
 * mean (with curves for the HTML report), plus a record per image (score, per-image pixel AP) to
 * pick the best, median and worst images of each class.
 */
import { createBatchLoader, createSampleReader, type Sample } from '@unias/datasets';
import { averagePrecision, createClassMetricsAccumulator, createMetricsAccumulator, type MetricsReport } from '@unias/metrics';
import type { TensorData } from '@unias/graph';
import type { Predictor } from '@unias/detector';

export interface ImageResult {
  readonly path: string;
  readonly className: string;
  readonly defectType: string;
  readonly label: 0 | 1;
  readonly score: number;
  /** AP of this image's pixels against its mask (defective images with a mask), else null. */
  readonly pixelAp: number | null;
}

export interface Evaluation {
  readonly report: MetricsReport;
  readonly images: readonly ImageResult[];
  /** Pooled over every class (when asked): thresholds for a labelled validation set. */
  readonly pooled?: { readonly imageF1Threshold: number | null; readonly dscThreshold: number | null };
  readonly seconds: number;
}

export interface EvaluateOptions {
  readonly predictor: Predictor;
  readonly samples: readonly Sample[];
  readonly batchSize?: number;
  /** Points per curve in the report (0: no curves). Default 200. */
  readonly curvePoints?: number;
  readonly pooledThresholds?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

export async function evaluate(o: EvaluateOptions): Promise<Evaluation> {
  const t0 = performance.now();
  const [h, w] = o.predictor.inputSize;
  const samples = o.samples;
  if (samples.length === 0) throw new Error('evaluate: no test images');
  const loader = createBatchLoader({
    samples,
    reader: createSampleReader({ size: { width: w, height: h }, normalize: 'none' }),
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    maskDtype: 'uint8',
    prefetch: 2,
  });
  const acc = createMetricsAccumulator({ curvePoints: o.curvePoints ?? 200 });
  const pooled = o.pooledThresholds ? createClassMetricsAccumulator({}) : null;
  const images: ImageResult[] = [];
  let done = 0;
  try {
    for await (const batch of loader.epoch()) {
      const { maps, scores } = await o.predictor.predict(batch.images as TensorData<'float32'>);
      const masks = batch.masks.data as Uint8Array;
      for (let i = 0; i < maps.length; i++) {
        const mask = masks.subarray(i * h * w, (i + 1) * h * w);
        const where = batch.paths[i]!;
        const map = maps[i]!;
        const label = batch.labels.data[i] === 1 ? 1 : 0;
        if (label === 1 && !batch.maskKnown[i]) {
          throw new Error(`evaluate: ${where} is defective but has no mask; pixel metrics need masks`);
        }
        acc.add(batch.classNames[i]!, { scores: map, mask, height: h, width: w }, where);
        pooled?.add({ scores: map, mask, height: h, width: w }, where);
        const hasDefect = mask.some((v) => v !== 0);
        images.push({
          path: where,
          className: batch.classNames[i]!,
          defectType: batch.defectTypes[i]!,
          label,
          score: scores[i]!,
          pixelAp: hasDefect ? averagePrecision(map, mask) : null,
        });
      }
      done += maps.length;
      o.onProgress?.(done, samples.length);
    }
  } finally {
    await loader.close();
  }
  const report = acc.compute();
  let pooledOut: Evaluation['pooled'];
  if (pooled) {
    const r = pooled.compute();
    pooledOut = { imageF1Threshold: r.thresholds.image_f1_max, dscThreshold: r.thresholds.dsc_iou };
  }
  return { report, images, ...(pooledOut ? { pooled: pooledOut } : {}), seconds: (performance.now() - t0) / 1000 };
}

/** The report without curves: what `metrics.json` and `unias metrics` hold. */
export function withoutCurves(r: MetricsReport): Omit<MetricsReport, 'curves'> {
  const { curves: _curves, ...rest } = r;
  return rest;
}
