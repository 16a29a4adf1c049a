/**
 * One detection: the model's map and score for an image turned into what a caller wants, at the
 * image's own size: score, label, the map resized (bilinear, `@unias/image`'s resizeMap), the binary
 * mask, and PNGs of the heat map, the overlay and the mask. The rules (label, mask, colour scale)
 * live here once, so `unias predict`, the server's /predict and a library user agree.
 */
import { binaryMask, encodePng, heatmapRgb, overlayRgb, quantize, rangeOf, resizeMap, type ImageSize, type Scale } from '@unias/image';

export type Label = 'anomalous' | 'normal';

export interface DetectionThresholds {
  /** Image score at or above which the label is `anomalous`; null: no label. */
  readonly image: number | null;
  /** Map value at or above which a pixel is in the mask; null: no mask. */
  readonly pixel: number | null;
  /** How they were chosen (the model's words, or who overrode them). */
  readonly source: string | null;
}

/** The label rule: anomalous when score >= the image threshold; null without a threshold. */
export function labelOf(score: number, imageThreshold: number | null): Label | null {
  if (imageThreshold === null) return null;
  return score >= imageThreshold ? 'anomalous' : 'normal';
}

/** The model's thresholds with a caller's on top; the source says who set them when anyone did. */
export function resolveThresholds(
  model: DetectionThresholds,
  override: { readonly image?: number | null; readonly pixel?: number | null },
  overriddenBy: string,
): DetectionThresholds {
  const image = override.image ?? null;
  const pixel = override.pixel ?? null;
  return {
    image: image ?? model.image,
    pixel: pixel ?? model.pixel,
    source: image !== null || pixel !== null ? overriddenBy : model.source,
  };
}

/**
 * The colour map's ends: 0 .. 2 x the pixel threshold when there is one (so colours mean the same
 * across images, and the threshold sits mid-scale), else the map's own min .. max.
 */
export function heatmapScale(map: ArrayLike<number>, pixelThreshold: number | null): Scale {
  return pixelThreshold !== null ? { lo: 0, hi: 2 * pixelThreshold } : rangeOf(map);
}

/** The image score when a model has no score output: the map's maximum (the pipeline's own rule). */
export function scoreFromMap(map: ArrayLike<number>): number {
  let best = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i]! > best) best = map[i]!;
  return best;
}

export interface Detection {
  /** The input's path, or what it was ("a Buffer of 1234 bytes", "raw pixels 64x48x3"). */
  readonly name: string;
  readonly score: number;
  readonly label: Label | null;
  readonly thresholds: DetectionThresholds;
  /** The image's own size (after EXIF orientation): the size of `map`, `mask` and every PNG. */
  readonly width: number;
  readonly height: number;
  /** The anomaly map at the image's size, row-major [height, width]. */
  readonly map: Float32Array;
  /** 1 where map >= thresholds.pixel, else 0, [height, width]; null without a pixel threshold. */
  readonly mask: Uint8Array | null;
  /** Share of the image's pixels in the mask; null without a mask. */
  readonly anomalousFraction: number | null;
  /** The map as the model made it, at its input size. */
  readonly modelMap: { readonly data: Float32Array; readonly width: number; readonly height: number };
  /** Jet colours of the map (blue low, red high) over `scale` (default: heatmapScale). */
  heatmapPng(o?: { scale?: Scale }): Promise<Buffer>;
  /** The heat map blended half over the image. */
  overlayPng(o?: { scale?: Scale }): Promise<Buffer>;
  /** The mask as a grey PNG, 255 = anomalous; null without a pixel threshold. */
  maskPng(): Promise<Buffer | null>;
}

export interface DetectionParts {
  readonly name: string;
  readonly score: number;
  readonly modelMap: Float32Array;
  readonly mapSize: ImageSize;
  readonly size: ImageSize;
  readonly thresholds: DetectionThresholds;
  /** The image as H x W x 3 RGB bytes at `size`, for the overlay; asked for only when needed. */
  readonly rgb: () => Promise<Uint8Array>;
}

export function makeDetection(p: DetectionParts): Detection {
  const { size, thresholds } = p;
  const map = resizeMap(p.modelMap, p.mapSize, size);
  let mask: Uint8Array | null = null;
  let fraction: number | null = null;
  if (thresholds.pixel !== null) {
    const t = thresholds.pixel;
    mask = new Uint8Array(map.length);
    let on = 0;
    for (let i = 0; i < map.length; i++) if (map[i]! >= t) on += mask[i] = 1;
    fraction = on / map.length;
  }
  const heat = (scale?: Scale): Uint8Array => heatmapRgb(quantize(map, scale ?? heatmapScale(map, thresholds.pixel)));
  return {
    name: p.name,
    score: p.score,
    label: labelOf(p.score, thresholds.image),
    thresholds,
    width: size.width,
    height: size.height,
    map,
    mask,
    anomalousFraction: fraction,
    modelMap: { data: p.modelMap, width: p.mapSize.width, height: p.mapSize.height },
    heatmapPng: (o = {}) => encodePng(heat(o.scale), size, 3),
    overlayPng: async (o = {}) => encodePng(overlayRgb(await p.rgb(), heat(o.scale)), size, 3),
    maskPng: async () => (thresholds.pixel === null ? null : encodePng(binaryMask(map, thresholds.pixel), size, 1)),
  };
}
