/**
 * Test-only reference implementations, written the slow, obvious way (O(pixels x thresholds), float64,
 * flood-fill regions) straight from the definitions, to check the fast single-pass code against.
 */

export interface BruteImage {
  readonly scores: ArrayLike<number>;
  readonly mask: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
}

/** Distinct values, descending (numbers compared as given). */
export function distinctDescending(values: ArrayLike<number>): number[] {
  return [...new Set(Array.from(values, (v) => (v === 0 ? 0 : v)))].sort((a, b) => b - a);
}

export interface BruteCurve {
  readonly thresholds: number[]; // descending
  readonly tps: number[];
  readonly fps: number[];
}

export function bruteCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): BruteCurve {
  const thresholds = distinctDescending(scores);
  const tps: number[] = [];
  const fps: number[] = [];
  for (const t of thresholds) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < scores.length; i++) {
      if (scores[i]! >= t) {
        if (labels[i] === 1) tp++;
        else fp++;
      }
    }
    tps.push(tp);
    fps.push(fp);
  }
  return { thresholds, tps, fps };
}

/** roc_curve + auc: trapezoids over (0,0) and every threshold's (fpr, tpr). */
export function bruteAuroc(c: BruteCurve): number {
  const P = c.tps[c.tps.length - 1]!;
  const N = c.fps[c.fps.length - 1]!;
  let area = 0;
  let x0 = 0;
  let y0 = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const x = c.fps[k]! / N;
    const y = c.tps[k]! / P;
    area += ((x - x0) * (y + y0)) / 2;
    x0 = x;
    y0 = y;
  }
  return area;
}

/** average_precision_score: sum over thresholds of (R_k - R_k-1) * P_k. */
export function bruteAp(c: BruteCurve): number {
  const P = c.tps[c.tps.length - 1]!;
  let ap = 0;
  let rPrev = 0;
  for (let k = 0; k < c.thresholds.length; k++) {
    const r = c.tps[k]! / P;
    ap += (r - rPrev) * (c.tps[k]! / (c.tps[k]! + c.fps[k]!));
    rPrev = r;
  }
  return ap;
}

/** sklearn's precision_recall_curve, ascending thresholds, with the final (P=1, R=0) point. */
export function brutePrCurve(c: BruteCurve): { precision: number[]; recall: number[]; thresholds: number[] } {
  const P = c.tps[c.tps.length - 1]!;
  const precision: number[] = [];
  const recall: number[] = [];
  const thresholds: number[] = [];
  for (let k = c.thresholds.length - 1; k >= 0; k--) {
    precision.push(c.tps[k]! / (c.tps[k]! + c.fps[k]!));
    recall.push(c.tps[k]! / P);
    thresholds.push(c.thresholds[k]!);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds };
}

export function bruteF1Max(c: BruteCurve): number {
  const { precision, recall } = brutePrCurve(c);
  let best = 0;
  for (let i = 0; i < precision.length; i++) {
    const s = precision[i]! + recall[i]!;
    const f = s > 0 ? (2 * precision[i]! * recall[i]!) / s : 0;
    if (f > best) best = f;
  }
  return best;
}

/** The UniAS threshold: thresholds[argmax(P + R)] with numpy's first-maximum argmax (Infinity: final point). */
export function bruteUniasThreshold(c: BruteCurve): number {
  const { precision, recall, thresholds } = brutePrCurve(c);
  let best = 0;
  for (let i = 1; i < precision.length; i++) if (precision[i]! + recall[i]! > precision[best]! + recall[best]!) best = i;
  return best < thresholds.length ? thresholds[best]! : Infinity;
}

export function bruteDscIou(images: readonly BruteImage[], threshold: number): { dsc: number; iou: number } {
  let dsc = 0;
  let iou = 0;
  for (const im of images) {
    let a = 0;
    let b = 0;
    let both = 0;
    for (let i = 0; i < im.scores.length; i++) {
      const m = im.mask[i] === 1;
      const p = im.scores[i]! >= threshold;
      if (m) a++;
      if (p) b++;
      if (m && p) both++;
    }
    if (a === 0) {
      dsc += b === 0 ? 1 : 0;
      iou += b === 0 ? 1 : 0;
    } else {
      dsc += (2 * both) / (a + b);
      iou += both / (a + b - both);
    }
  }
  return { dsc: dsc / images.length, iou: iou / images.length };
}

/** Regions by flood fill (a different algorithm from the union-find under test). */
export function floodFillRegions(mask: ArrayLike<number>, height: number, width: number, connectivity: 4 | 8): number[][] {
  const seen = new Uint8Array(height * width);
  const regions: number[][] = [];
  const steps: Array<[number, number]> = [
    [0, 1],
    [1, 0],
    [0, -1],
    [-1, 0],
  ];
  if (connectivity === 8) steps.push([1, 1], [1, -1], [-1, 1], [-1, -1]);
  for (let start = 0; start < height * width; start++) {
    if (mask[start] !== 1 || seen[start] === 1) continue;
    const region: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      region.push(i);
      const y = Math.floor(i / width);
      const x = i % width;
      for (const [dy, dx] of steps) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
        const j = yy * width + xx;
        if (mask[j] === 1 && seen[j] === 0) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    regions.push(region.sort((p, q) => p - q));
  }
  return regions;
}

/** AU-PRO straight from the MVTec definition, as the golden file states it. */
export function bruteAupro(images: readonly BruteImage[], limit: number, connectivity: 4 | 8 = 8): number {
  const all: number[] = [];
  for (const im of images) for (let i = 0; i < im.scores.length; i++) all.push(im.scores[i]!);
  const thresholds = distinctDescending(all);
  const regions: Array<{ image: BruteImage; pixels: number[] }> = [];
  let normals = 0;
  for (const im of images) {
    for (const pixels of floodFillRegions(im.mask, im.height, im.width, connectivity)) regions.push({ image: im, pixels });
    for (let i = 0; i < im.mask.length; i++) if (im.mask[i] === 0) normals++;
  }
  const xs = [0];
  const ys = [0];
  for (const t of thresholds) {
    let fp = 0;
    for (const im of images) for (let i = 0; i < im.scores.length; i++) if (im.mask[i] === 0 && im.scores[i]! >= t) fp++;
    let pro = 0;
    for (const r of regions) pro += r.pixels.filter((i) => r.image.scores[i]! >= t).length / r.pixels.length;
    xs.push(fp / normals);
    ys.push(Math.min(pro / regions.length, 1));
  }
  // MVTec's trapezoid with x_max: interpolate the segment crossing the limit.
  let area = 0;
  for (let k = 1; k < xs.length; k++) {
    if (xs[k]! <= limit) {
      area += 0.5 * (ys[k]! + ys[k - 1]!) * (xs[k]! - xs[k - 1]!);
    } else {
      const span = limit - xs[k - 1]!;
      const y = ys[k - 1]! + ((ys[k]! - ys[k - 1]!) * span) / (xs[k]! - xs[k - 1]!);
      area += 0.5 * (y + ys[k - 1]!) * span;
      break;
    }
  }
  return area / limit;
}
