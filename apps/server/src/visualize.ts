/**
 * Pictures of a /predict result, by the detection's own helpers (`@unias/detector`, the code
 * `unias predict` writes its files with): the heat map over the image, the binary mask at the pixel
 * threshold, and the raw map quantised to 8-bit grey (with its range) for client-side
 * re-thresholding. All PNG, at the size of the detection (the model's input size here).
 */
import type { Detection } from '@unias/detector/detection';
import { encodePng, quantize, rangeOf } from '@unias/image';

export interface MapRange {
  readonly min: number;
  readonly max: number;
}

export interface RenderedResult {
  readonly heatmap: Buffer;
  readonly mask: Buffer | null;
  readonly map: Buffer;
  readonly range: MapRange;
}

export async function renderResult(d: Detection): Promise<RenderedResult> {
  // The colour map spans the map's own range: the page re-thresholds without a model threshold.
  const range = rangeOf(d.map);
  const [heatmap, mask, map] = await Promise.all([
    d.overlayPng({ scale: range }),
    d.maskPng(),
    encodePng(quantize(d.map, range), { width: d.width, height: d.height }, 1),
  ]);
  return { heatmap, mask, map, range: { min: range.lo, max: range.hi } };
}
