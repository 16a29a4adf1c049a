/**
 * The single-pass radix path against the O(pixels x thresholds) reference on random inputs: continuous
 * scores (small radix buckets, sorted), scores packed into one top-16-bit bucket (large buckets, count
 * table), heavy ties, negative scores; images with empty masks, several regions and constant maps.
 */
import { createRng, type Rng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { binaryMetrics } from './binary-metrics.js';
import { createClassMetricsAccumulator, type ImageMap } from './class-accumulator.js';
import { bruteAp, bruteAupro, bruteAuroc, bruteCurve, bruteDscIou, bruteF1Max, bruteUniasThreshold } from './testing/brute-force.js';

type ScoreKind = 'continuous' | 'one-bucket' | 'ties' | 'signed';

function drawScore(rng: Rng, kind: ScoreKind, anomalous: boolean): number {
  const bump = anomalous ? 0.35 : 0;
  switch (kind) {
    case 'continuous':
      return Math.min(rng.uniform() * 0.7 + bump, 1);
    case 'one-bucket':
      // [0.5, 0.5 + 2^-9): every key shares its top 16 bits, low 16 bits all differ.
      return 0.5 + (rng.uniform() * 0.6 + bump) * 2 ** -10;
    case 'ties':
      return Math.round((rng.uniform() * 0.7 + bump) * 8) / 8;
    case 'signed':
      return (rng.uniform() - 0.6 + bump) * 3;
  }
}

function makeImages(rng: Rng, kind: ScoreKind, count: number, h: number, w: number): ImageMap[] {
  const images: ImageMap[] = [];
  for (let n = 0; n < count; n++) {
    const mask = new Uint8Array(h * w);
    const blobs = n % 3 === 0 ? 0 : 1 + rng.int(3);
    for (let b = 0; b < blobs; b++) {
      const cy = rng.int(h);
      const cx = rng.int(w);
      const r = 1 + rng.int(3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((y - cy) ** 2 + (x - cx) ** 2 <= r * r && rng.uniform() < 0.9) mask[y * w + x] = 1;
    }
    const scores = new Float32Array(h * w);
    const constant = n % 7 === 5;
    for (let i = 0; i < h * w; i++) scores[i] = constant ? 0.25 : drawScore(rng, kind, mask[i] === 1 && rng.uniform() < 0.8);
    images.push({ scores, mask, height: h, width: w });
  }
  return images;
}

function concat(images: readonly ImageMap[]): { scores: Float32Array; labels: Uint8Array } {
  const total = images.reduce((s, im) => s + im.scores.length, 0);
  const scores = new Float32Array(total);
  const labels = new Uint8Array(total);
  let at = 0;
  for (const im of images) {
    scores.set(im.scores, at);
    labels.set(im.mask, at);
    at += im.scores.length;
  }
  return { scores, labels };
}

const TOL = 1e-12;
const cases: Array<[ScoreKind, number, number, number, number]> = [
  ['continuous', 1, 12, 20, 20],
  ['one-bucket', 2, 10, 24, 24],
  ['ties', 3, 9, 16, 20],
  ['signed', 4, 8, 18, 18],
];

describe('fast single pass = brute force on random maps', () => {
  for (const [kind, seed, count, h, w] of cases) {
    it(`${kind} scores (seed ${seed}, ${count} images of ${h}x${w})`, () => {
      const rng = createRng(seed);
      const images = makeImages(rng, kind, count, h, w);
      const acc = createClassMetricsAccumulator({ curvePoints: 64 });
      for (const im of images) acc.add(im);
      const report = acc.compute();
      const m = report.metrics;

      const { scores, labels } = concat(images);
      const curve = bruteCurve(scores, labels);
      expect(report.counts.distinct_scores).toBe(curve.thresholds.length);
      expect(Math.abs(m.pixel_auroc! - bruteAuroc(curve))).toBeLessThan(TOL);
      expect(Math.abs(m.pixel_ap! - bruteAp(curve))).toBeLessThan(TOL);
      expect(Math.abs(m.pixel_f1_max! - bruteF1Max(curve))).toBeLessThan(TOL);

      const threshold = bruteUniasThreshold(curve);
      expect(report.thresholds.dsc_iou).toBe(threshold);
      const dsc = bruteDscIou(images, threshold);
      expect(Math.abs(m.dsc! - dsc.dsc)).toBeLessThan(TOL);
      expect(Math.abs(m.iou! - dsc.iou)).toBeLessThan(TOL);

      expect(Math.abs(m.aupro! - bruteAupro(images, 0.3))).toBeLessThan(TOL);

      const imageScores = images.map((im) => Math.max(...im.scores));
      const imageLabels = images.map((im) => (im.mask.some((v) => v === 1) ? 1 : 0));
      const imageCurve = bruteCurve(imageScores, imageLabels);
      expect(Math.abs(m.image_auroc! - bruteAuroc(imageCurve))).toBeLessThan(TOL);
      expect(Math.abs(m.image_ap! - bruteAp(imageCurve))).toBeLessThan(TOL);
      expect(Math.abs(m.image_f1_max! - bruteF1Max(imageCurve))).toBeLessThan(TOL);

      // The plain-number path agrees with the radix path on the same pixels.
      const viaNumbers = binaryMetrics(Array.from(scores), labels);
      expect(Math.abs(viaNumbers.auroc! - m.pixel_auroc!)).toBeLessThan(TOL);
      expect(Math.abs(viaNumbers.ap! - m.pixel_ap!)).toBeLessThan(TOL);

      // Curves stay within budget and end at the full-recall point.
      const curves = report.curves!;
      for (const c of [curves.pixel_roc, curves.pixel_pr, curves.pixel_pro!, curves.image_roc, curves.image_pr]) {
        expect(c.x.length).toBeLessThanOrEqual(64);
        expect(c.x.length).toBe(c.y.length);
        expect(c.x.length).toBe(c.thresholds.length);
      }
      expect(curves.pixel_roc.x.at(-1)).toBe(1);
      expect(curves.pixel_roc.y.at(-1)).toBe(1);
      expect(curves.pixel_pr.x.at(-1)).toBe(1);
      expect(curves.pixel_pro!.x.at(-1)).toBeCloseTo(0.3, 15);
    });
  }

  it('AU-PRO at other FPR limits and with 4-connectivity', () => {
    const rng = createRng(11);
    const images = makeImages(rng, 'continuous', 8, 16, 16);
    for (const [limit, connectivity] of [
      [0.05, 8],
      [1, 8],
      [0.3, 4],
    ] as const) {
      const acc = createClassMetricsAccumulator({ proFprLimit: limit, connectivity });
      for (const im of images) acc.add(im);
      expect(Math.abs(acc.compute().metrics.aupro! - bruteAupro(images, limit, connectivity))).toBeLessThan(TOL);
    }
  });

  it('top-k mean image score', () => {
    const rng = createRng(12);
    const images = makeImages(rng, 'continuous', 10, 12, 12);
    const acc = createClassMetricsAccumulator({ imageScore: { kind: 'top-k-mean', k: 5 } });
    for (const im of images) acc.add(im);
    const scores = images.map((im) => {
      const s = Array.from(im.scores).sort((a, b) => b - a);
      return (s[0]! + s[1]! + s[2]! + s[3]! + s[4]!) / 5;
    });
    const labels = images.map((im) => (im.mask.some((v) => v === 1) ? 1 : 0));
    const curve = bruteCurve(scores, labels);
    const m = acc.compute().metrics;
    expect(Math.abs(m.image_auroc! - bruteAuroc(curve))).toBeLessThan(TOL);
    expect(Math.abs(m.image_ap! - bruteAp(curve))).toBeLessThan(TOL);
  });
});
