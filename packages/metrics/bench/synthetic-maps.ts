/**
 * Synthetic anomaly maps for the bench: 224 x 224 float32 maps (smooth background noise, blob-shaped
 * defects that the map partly finds, occasional false alarms), generated one image at a time.
 */
import { createRng, type Rng } from '@unias/graph';

export interface SyntheticImage {
  readonly scores: Float32Array;
  readonly mask: Uint8Array;
  readonly height: number;
  readonly width: number;
}

export function createSyntheticMaps(seed: number, height = 224, width = 224): () => SyntheticImage {
  const rng: Rng = createRng(seed);
  const coarse = 8;
  return () => {
    const n = height * width;
    const scores = new Float32Array(n);
    const mask = new Uint8Array(n);
    // Smooth background: bilinear upsampling of a coarse noise grid, plus fine noise.
    const grid = new Float32Array((coarse + 1) * (coarse + 1));
    rng.fillNormal(grid, 0.2, 0.08);
    const fine = new Float32Array(n);
    rng.fillNormal(fine, 0, 0.03);
    for (let y = 0; y < height; y++) {
      const gy = (y / height) * coarse;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < width; x++) {
        const gx = (x / width) * coarse;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const a = grid[y0 * (coarse + 1) + x0]!;
        const b = grid[y0 * (coarse + 1) + x0 + 1]!;
        const c = grid[(y0 + 1) * (coarse + 1) + x0]!;
        const d = grid[(y0 + 1) * (coarse + 1) + x0 + 1]!;
        scores[y * width + x] = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy + fine[y * width + x]!;
      }
    }
    // Half of the images carry 1-3 elliptic defects; the map responds to most of each.
    const defects = rng.uniform() < 0.5 ? 1 + rng.int(3) : 0;
    for (let k = 0; k < defects; k++) {
      const cy = rng.int(height);
      const cx = rng.int(width);
      const ry = 3 + rng.int(20);
      const rx = 3 + rng.int(20);
      const strength = 0.2 + 0.6 * rng.uniform();
      for (let y = Math.max(0, cy - ry); y < Math.min(height, cy + ry + 1); y++) {
        for (let x = Math.max(0, cx - rx); x < Math.min(width, cx + rx + 1); x++) {
          const r2 = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2;
          if (r2 <= 1) {
            mask[y * width + x] = 1;
            scores[y * width + x]! += strength * (1 - 0.6 * r2);
          }
        }
      }
    }
    // A false alarm now and then.
    if (rng.uniform() < 0.2) {
      const cy = rng.int(height);
      const cx = rng.int(width);
      for (let y = Math.max(0, cy - 4); y < Math.min(height, cy + 5); y++) {
        for (let x = Math.max(0, cx - 4); x < Math.min(width, cx + 5); x++) scores[y * width + x]! += 0.3;
      }
    }
    return { scores, mask, height, width };
  };
}
