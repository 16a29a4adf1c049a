/**
 * The path back from a model's map to pictures of the image: the map resized to the image's size,
 * the binary mask at a pixel threshold, a jet heat map, the heat map over the image, PNG. Used by
 * `unias predict` (at each image's own size) and the server's /predict (at the model's size).
 */
import sharp from 'sharp';
import type { ImageSize } from './decode.js';

/** The map values drawn as the ends of the colour map (lower and higher values are clamped). */
export interface Scale {
  readonly lo: number;
  readonly hi: number;
}

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

/** Half image, half heat map. */
export const OVERLAY_ALPHA = 0.5;

/** The map's own min .. max ({0, 0} when empty). */
export function rangeOf(map: ArrayLike<number>): Scale {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return map.length === 0 ? { lo: 0, hi: 0 } : { lo, hi };
}

/** The map as levels 0..255 over the scale, clamped (all zero for an empty scale). */
export function quantize(map: ArrayLike<number>, scale: Scale): Uint8Array {
  const out = new Uint8Array(map.length);
  const span = scale.hi - scale.lo;
  if (!(span > 0)) return out;
  for (let i = 0; i < map.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, (map[i]! - scale.lo) / span)) * 255);
  return out;
}

/** Jet colours (H x W x 3) of levels 0..255. */
export function heatmapRgb(levels: Uint8Array): Uint8Array {
  const out = new Uint8Array(levels.length * 3);
  for (let p = 0; p < levels.length; p++) out.set(JET.subarray(levels[p]! * 3, levels[p]! * 3 + 3), p * 3);
  return out;
}

/** The heat map blended over the image (both H x W x 3). */
export function overlayRgb(rgb: Uint8Array, heat: Uint8Array, alpha = OVERLAY_ALPHA): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.round((1 - alpha) * rgb[i]! + alpha * heat[i]!);
  return out;
}

/** 255 where map >= threshold, else 0. */
export function binaryMask(map: ArrayLike<number>, threshold: number): Uint8Array {
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i]! >= threshold ? 255 : 0;
  return out;
}

/** Interleaved RGB bytes of a planar [3, H, W] image in [0, 1]. */
export function planarToRgb(image: Float32Array, size: ImageSize): Uint8Array {
  const plane = size.width * size.height;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(Math.max(0, Math.min(1, image[c * plane + i]!)) * 255);
  }
  return out;
}

/** Bilinear resize of a map (align_corners false, edges clamped), to draw it at the image's own size. */
export function resizeMap(map: Float32Array, from: ImageSize, to: ImageSize): Float32Array {
  const { width: w, height: h } = from;
  const { width: W, height: H } = to;
  if (h === H && w === W) return map;
  const out = new Float32Array(H * W);
  const sy = h / H;
  const sx = w / W;
  for (let y = 0; y < H; y++) {
    const fy = Math.max(0, Math.min(h - 1, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(h - 1, y0 + 1);
    const dy = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.max(0, Math.min(w - 1, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(w - 1, x0 + 1);
      const dx = fx - x0;
      const top = map[y0 * w + x0]! * (1 - dx) + map[y0 * w + x1]! * dx;
      const bottom = map[y1 * w + x0]! * (1 - dx) + map[y1 * w + x1]! * dx;
      out[y * W + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}

export interface RenderInput {
  /** The model's map, [mapSize.height, mapSize.width]. */
  readonly map: Float32Array;
  readonly mapSize: ImageSize;
  /** The picture to draw on, H x W x 3 bytes; the map is resized to its size. */
  readonly rgb: Uint8Array;
  readonly size: ImageSize;
  /** Colour-map ends; the (resized) map's own range when null. */
  readonly scale: Scale | null;
  /** Pixel threshold for the mask; no mask when null. */
  readonly threshold: number | null;
}

export interface RenderedMap {
  /** The map at `size`. */
  readonly map: Float32Array;
  readonly scale: Scale;
  /** The map as 0..255 over `scale`. */
  readonly levels: Uint8Array;
  readonly heatmap: Uint8Array;
  readonly overlay: Uint8Array;
  /** 0/255, or null without a threshold. */
  readonly mask: Uint8Array | null;
}

/** Every picture of one result, as raw pixels at `size` (encode with encodePng). */
export function renderMap(o: RenderInput): RenderedMap {
  const map = resizeMap(o.map, o.mapSize, o.size);
  const scale = o.scale ?? rangeOf(map);
  const levels = quantize(map, scale);
  const heatmap = heatmapRgb(levels);
  return { map, scale, levels, heatmap, overlay: overlayRgb(o.rgb, heatmap), mask: o.threshold === null ? null : binaryMask(map, o.threshold) };
}

/** PNG of raw grey (1) or RGB (3) pixels; fast settings (these pictures are made per request). */
export async function encodePng(pixels: Uint8Array, size: ImageSize, channels: 1 | 3): Promise<Buffer> {
  const img = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: size.width, height: size.height, channels } });
  // sharp writes one raw channel as an RGB PNG unless told it is grey
  return (channels === 1 ? img.toColourspace('b-w') : img).png({ compressionLevel: 1, adaptiveFiltering: false }).toBuffer();
}
