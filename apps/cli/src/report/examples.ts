/**
 * The images shown per class in the report: the best, median and worst defective image by the
 * per-image pixel AP (by image score when there are no masks), predicted again and drawn as the
 * image, the heat-map overlay and the thresholded prediction with the true mask's outline.
 */
import { createSampleReader, type Sample } from '@unias/datasets';
import type { ImageResult } from '@unias/engine';
import type { Predictor } from '@unias/detector';
import { encodePng, heatmapRgb, overlayRgb, planarToRgb, quantize } from '@unias/image';
import { maskOverlayRgb } from './heatmap.js';

export type Rank = 'best' | 'median' | 'worst';

export interface ReportExample {
  readonly rank: Rank;
  readonly path: string;
  readonly defectType: string;
  readonly score: number;
  readonly pixelAp: number | null;
  readonly threshold: number;
  readonly image: Buffer;
  readonly overlay: Buffer;
  readonly prediction: Buffer;
}

/** Indices of best, median and worst by a key (higher is better), without repeats. */
export function pickRanks<T>(items: readonly T[], key: (t: T) => number): Array<{ rank: Rank; item: T }> {
  if (items.length === 0) return [];
  const sorted = [...items].sort((a, b) => key(b) - key(a));
  const picks: Array<{ rank: Rank; index: number }> = [
    { rank: 'best', index: 0 },
    { rank: 'median', index: Math.floor((sorted.length - 1) / 2) },
    { rank: 'worst', index: sorted.length - 1 },
  ];
  const seen = new Set<number>();
  return picks.filter((p) => !seen.has(p.index) && seen.add(p.index)).map((p) => ({ rank: p.rank, item: sorted[p.index]! }));
}

export async function buildExamples(o: {
  predictor: Predictor;
  images: readonly ImageResult[];
  samples: readonly Sample[];
  /** The pixel threshold per class used for the drawn prediction. */
  thresholdOf: (className: string) => number | null;
}): Promise<Record<string, ReportExample[]>> {
  const [h, w] = o.predictor.inputSize;
  const reader = createSampleReader({ size: { width: w, height: h }, normalize: 'none' });
  const byPath = new Map(o.samples.map((s) => [s.path, s]));
  const out: Record<string, ReportExample[]> = {};
  const classes = [...new Set(o.images.map((i) => i.className))].sort();
  for (const c of classes) {
    const defective = o.images.filter((i) => i.className === c && i.label === 1);
    const withAp = defective.filter((i) => i.pixelAp !== null);
    const picks = withAp.length > 0 ? pickRanks(withAp, (i) => i.pixelAp!) : pickRanks(defective, (i) => i.score);
    const list: ReportExample[] = [];
    for (const { rank, item } of picks) {
      const sample = byPath.get(item.path);
      if (!sample) continue;
      const d = await reader.read(sample);
      const p = await o.predictor.predict({ dtype: 'float32', shape: [1, 3, h, w], data: d.image });
      const map = p.maps[0]!;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of map) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const threshold = o.thresholdOf(c) ?? hi + 1;
      // colours from the map's minimum to max(its maximum, 2 x threshold), so a clean image stays blue
      const scale = { lo, hi: Math.max(hi, Number.isFinite(threshold) ? lo + 2 * (threshold - lo) : hi) };
      const size = { width: w, height: h };
      const rgb = planarToRgb(d.image, size);
      list.push({
        rank,
        path: item.path,
        defectType: item.defectType,
        score: item.score,
        pixelAp: item.pixelAp,
        threshold,
        image: await encodePng(rgb, size, 3),
        overlay: await encodePng(overlayRgb(rgb, heatmapRgb(quantize(map, scale))), size, 3),
        prediction: await encodePng(maskOverlayRgb(rgb, map, threshold, h, w, d.maskKnown ? d.mask : undefined), size, 3),
      });
    }
    out[c] = list;
  }
  return out;
}
