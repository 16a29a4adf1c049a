/** Anomaly maps as pictures: a colour map, an overlay on the image, a binary mask, as PNG (sharp). */
import sharp from 'sharp';

/** Jet-like colour of v in [0, 1]: blue (low) -> cyan -> yellow -> red (high). */
export function colormap(v: number): [number, number, number] {
  const t = Math.max(0, Math.min(1, v));
  const r = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * t - 3)));
  const g = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * t - 2)));
  const b = Math.max(0, Math.min(1, 1.5 - Math.abs(4 * t - 1)));
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

export interface Scale {
  readonly lo: number;
  readonly hi: number;
}

/** Interleaved RGB bytes of a planar [3, H, W] image in [0, 1]. */
export function imageToRgb(image: Float32Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(Math.max(0, Math.min(1, image[c * plane + i]!)) * 255);
  }
  return out;
}

export function heatmapRgb(map: Float32Array, scale: Scale): Uint8Array {
  const out = new Uint8Array(map.length * 3);
  const span = scale.hi - scale.lo || 1;
  for (let i = 0; i < map.length; i++) {
    const [r, g, b] = colormap((map[i]! - scale.lo) / span);
    out[i * 3] = r;
    out[i * 3 + 1] = g;
    out[i * 3 + 2] = b;
  }
  return out;
}

/** Half image, half heat map. */
export function overlayRgb(rgb: Uint8Array, heat: Uint8Array, alpha = 0.5): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.round((1 - alpha) * rgb[i]! + alpha * heat[i]!);
  return out;
}

/**
 * The image with the prediction at `threshold` (red tint) and, when known, the outline of the
 * ground-truth mask (green).
 */
export function maskOverlayRgb(rgb: Uint8Array, map: Float32Array, threshold: number, h: number, w: number, truth?: Uint8Array): Uint8Array {
  const out = Uint8Array.from(rgb);
  for (let i = 0; i < map.length; i++) {
    if (map[i]! >= threshold) {
      out[i * 3] = Math.round(0.45 * out[i * 3]! + 0.55 * 255);
      out[i * 3 + 1] = Math.round(0.45 * out[i * 3 + 1]!);
      out[i * 3 + 2] = Math.round(0.45 * out[i * 3 + 2]!);
    }
  }
  if (truth) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (!truth[i]) continue;
        const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || !truth[i - 1] || !truth[i + 1] || !truth[i - w] || !truth[i + w];
        if (edge) {
          out[i * 3] = 0;
          out[i * 3 + 1] = 255;
          out[i * 3 + 2] = 0;
        }
      }
    }
  }
  return out;
}

export function binaryMask(map: Float32Array, threshold: number): Uint8Array {
  const out = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = map[i]! >= threshold ? 255 : 0;
  return out;
}

export async function encodePng(data: Uint8Array, w: number, h: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: w, height: h, channels } }).png().toBuffer();
}

/** Bilinear resize of a map [h, w] -> [H, W] (align_corners false), to draw it at the image's own size. */
export function resizeMap(map: Float32Array, h: number, w: number, H: number, W: number): Float32Array {
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
