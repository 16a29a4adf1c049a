/**
 * Thresholds from normal images only, computed when training ends: the image threshold is the
 * `imageQuantile` (0.99) quantile of the normal training images' scores (max of the map), the pixel
 * threshold the `pixelQuantile` (0.999) quantile of their pixel scores. Quantiles interpolate
 * linearly between order statistics (numpy's default). Above about 4M pixels every k-th pixel is
 * used (a fixed stride, so the result does not depend on anything random).
 */
import { createBatchLoader, createSampleReader, type Sample } from '@unias/datasets';
import type { TensorData } from '@unias/graph';
import type { StoredThresholds, Predictor } from '@unias/detector';

const MAX_PIXELS = 4_000_000;

/** Linear-interpolation quantile of sorted values (numpy's default method). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('quantile of no values');
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return quantileSorted(sorted, q);
}

export async function normalThresholds(o: {
  predictor: Predictor;
  samples: readonly Sample[];
  imageQuantile: number;
  pixelQuantile: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<StoredThresholds> {
  const normals = o.samples.filter((s) => s.label === 0);
  if (normals.length === 0) throw new Error('thresholds: no normal images');
  const [h, w] = o.predictor.inputSize;
  const plane = h * w;
  const stride = Math.max(1, Math.ceil((normals.length * plane) / MAX_PIXELS));
  const loader = createBatchLoader({
    samples: normals,
    reader: createSampleReader({ size: { width: w, height: h }, normalize: 'none' }),
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    prefetch: 2,
  });
  const scores: number[] = [];
  const pixels = new Float32Array(Math.ceil((normals.length * plane) / stride));
  let np = 0;
  let offset = 0;
  try {
    for await (const batch of loader.epoch()) {
      const p = await o.predictor.predict(batch.images as TensorData<'float32'>);
      scores.push(...p.scores);
      for (const m of p.maps) {
        // the global pixel index runs over every image, so the stride does not restart per image
        for (let i = (stride - (offset % stride)) % stride; i < plane; i += stride) pixels[np++] = m[i]!;
        offset += plane;
      }
      o.onProgress?.(scores.length, normals.length);
    }
  } finally {
    await loader.close();
  }
  return {
    image: quantile(scores, o.imageQuantile),
    pixel: quantile(pixels.subarray(0, np), o.pixelQuantile),
    source: `quantile ${o.imageQuantile} of the image scores and ${o.pixelQuantile} of the pixel scores of ${normals.length} normal training images${stride > 1 ? ` (one pixel in ${stride})` : ''}`,
  };
}
