/**
 * The evaluation report's own picture: the prediction over the image with the true mask's outline.
 * The colour map, overlay, mask, map resize and PNG encoding are the image package's (render.ts),
 * shared with `unias predict` and the server.
 */

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
