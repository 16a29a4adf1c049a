/**
 * Pictures of a /predict result, by the image package's render module (the one `unias predict`
 * uses): the heat map over the image, the binary mask at a pixel threshold, and the raw map
 * quantised to 8-bit grey (with its range) for client-side re-thresholding. All PNG, at the
 * model's input size.
 */
import { encodePng, renderMap, type Scale } from '@unias/image';

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

export async function renderResult(
  rgb: Uint8Array,
  map: Float32Array,
  width: number,
  height: number,
  pixelThreshold: number | null,
): Promise<RenderedResult> {
  const size = { width, height };
  // The colour map spans the map's own range: the page re-thresholds without a model threshold.
  const r = renderMap({ map, mapSize: size, rgb, size, scale: null, threshold: pixelThreshold });
  const range: Scale = r.scale;
  const [heatmap, mask, mapPng] = await Promise.all([
    encodePng(r.overlay, size, 3),
    r.mask === null ? Promise.resolve(null) : encodePng(r.mask, size, 1),
    encodePng(r.levels, size, 1),
  ]);
  return { heatmap, mask, map: mapPng, range: { min: range.lo, max: range.hi } };
}
