/**
 * The neighbour mask of the hybrid decoder: a query may not attend to the size x size
 * neighbourhood around its own grid position (itself included), so it cannot copy its own
 * input. Row-major [h*w, h*w], true = blocked (PyTorch's boolean attn_mask convention).
 */
export function neighbourMask(h: number, w: number, size: number): boolean[] | undefined {
  if (!Number.isInteger(size) || size < 0) throw new Error(`neighbour mask size must be a non-negative integer, got ${size}`);
  if (size === 0) return undefined;
  if (size % 2 === 0) throw new Error(`neighbour mask size must be odd (or 0 for none), got ${size}`);
  const r = Math.floor(size / 2);
  const n = h * w;
  const mask = new Array<boolean>(n * n).fill(false);
  for (let y1 = 0; y1 < h; y1++)
    for (let x1 = 0; x1 < w; x1++) {
      const row = (y1 * w + x1) * n;
      let open = n;
      for (let y2 = Math.max(y1 - r, 0); y2 <= Math.min(y1 + r, h - 1); y2++)
        for (let x2 = Math.max(x1 - r, 0); x2 <= Math.min(x1 + r, w - 1); x2++) {
          mask[row + y2 * w + x2] = true;
          open--;
        }
      if (open === 0) {
        throw new Error(
          `neighbour mask ${size}x${size} blocks every key of the ${h}x${w} query grid at (${y1},${x1}); ` +
            'use a larger input (grid = input / 16) or a smaller neighbour size',
        );
      }
    }
  return mask;
}
