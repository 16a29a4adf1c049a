/**
 * Pictures of a result: the heatmap overlay (jet colour map over the image), the binary mask at a
 * pixel threshold, and the raw map quantised to 8-bit grey (with its range) for client-side
 * re-thresholding. All PNG.
 */
import sharp from 'sharp';

/** Jet: dark blue -> cyan -> yellow -> dark red, 256 RGB entries. */
export const JET: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  const clamp = (v: number): number => Math.min(1, Math.max(0, v));
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    lut[i * 3] = Math.round(255 * clamp(1.5 - Math.abs(4 * x - 3)));
    lut[i * 3 + 1] = Math.round(255 * clamp(1.5 - Math.abs(4 * x - 2)));
    lut[i * 3 + 2] = Math.round(255 * clamp(1.5 - Math.abs(4 * x - 1)));
  }
  return lut;
})();

export const OVERLAY_ALPHA = 0.5;

export interface MapRange {
  readonly min: number;
  readonly max: number;
}

export function rangeOf(map: ArrayLike<number>): MapRange {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return map.length === 0 ? { min: 0, max: 0 } : { min, max };
}

/** The map scaled to 0..255 over its own range (all zero for a flat map). */
export function quantize(map: ArrayLike<number>, range: MapRange): Uint8Array {
  const out = new Uint8Array(map.length);
  const span = range.max - range.min;
  if (!(span > 0)) return out;
  for (let i = 0; i < map.length; i++) out[i] = Math.round(((map[i]! - range.min) / span) * 255);
  return out;
}

/** Heatmap colours blended over the image (both H x W; rgb is H x W x 3). */
export function overlayPixels(rgb: Uint8Array, levels: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < levels.length; p++) {
    const l = levels[p]! * 3;
    for (let c = 0; c < 3; c++) {
      out[p * 3 + c] = Math.round((1 - OVERLAY_ALPHA) * rgb[p * 3 + c]! + OVERLAY_ALPHA * JET[l + c]!);
    }
  }
  return out;
}

export function maskPixels(map: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i]! >= threshold ? 255 : 0;
  return out;
}

export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(pixels, { raw: { width, height, channels } })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

export interface RenderedResult {
  readonly heatmap: Buffer;
  readonly mask: Buffer | null;
  readonly map: Buffer;
  readonly range: MapRange;
}

export async function renderResult(
  rgb: Uint8Array,
  map: ArrayLike<number>,
  width: number,
  height: number,
  pixelThreshold: number | null,
): Promise<RenderedResult> {
  const range = rangeOf(map);
  const levels = quantize(map, range);
  const [heatmap, mask, mapPng] = await Promise.all([
    encodePng(overlayPixels(rgb, levels), width, height, 3),
    pixelThreshold === null ? Promise.resolve(null) : encodePng(maskPixels(map, pixelThreshold), width, height, 1),
    encodePng(levels, width, height, 1),
  ]);
  return { heatmap, mask, map: mapPng, range };
}
