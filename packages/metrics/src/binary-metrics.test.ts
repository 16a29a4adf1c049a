/** Closed-form cases, checked on both paths (Float32Array radix path and plain-number sort path). */
import { describe, expect, it } from 'vitest';
import { averagePrecision, binaryMetrics, f1Max, rocAuc } from './binary-metrics.js';
import { MetricsInputError } from './errors.js';

const paths = [
  ['float32 radix path', (s: number[]) => Float32Array.from(s)],
  ['number sort path', (s: number[]) => s],
] as const;

for (const [pathName, make] of paths) {
  describe(`binaryMetrics (${pathName})`, () => {
    it("scikit-learn's documented example: AUROC 0.75, AP 0.8333", () => {
      // roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75; average_precision_score = 0.8333...
      const scores = make([0.1, 0.4, 0.35, 0.8]);
      const labels = [0, 0, 1, 1];
      expect(rocAuc(scores, labels)).toBeCloseTo(0.75, 15);
      expect(averagePrecision(scores, labels)).toBeCloseTo(5 / 6, 15);
      // PR points (desc): 0.8 (P 1, R .5), 0.4 (.5, .5), 0.35 (2/3, 1), 0.1 (.5, 1): F1 max 0.8 at 0.35.
      const m = binaryMetrics(scores, labels);
      expect(m.f1Max).toBeCloseTo(0.8, 15);
      expect(m.f1Threshold).toBeCloseTo(0.35, 7);
    });

    it('all scores tied: one threshold, AUROC 0.5, AP = prevalence', () => {
      const scores = make([0.3, 0.3, 0.3, 0.3, 0.3]);
      const labels = [1, 0, 0, 1, 0];
      const m = binaryMetrics(scores, labels);
      expect(m.distinct).toBe(1);
      expect(m.auroc).toBe(0.5);
      expect(m.ap).toBeCloseTo(0.4, 15);
      expect(m.f1Max).toBeCloseTo((2 * 0.4) / 1.4, 15);
    });

    it('partial ties are grouped: AUROC 0.25, AP 7/12', () => {
      // Groups: 0.5 -> (tp 1, fp 1), 0.2 -> (tp 2, fp 1). ROC (0,0)->(1,.5)->(1,1): area .25.
      // AP = .5 * 1/2 + .5 * 2/3 = 7/12.
      const m = binaryMetrics(make([0.5, 0.5, 0.2]), [1, 0, 1]);
      expect(m.auroc).toBeCloseTo(0.25, 15);
      expect(m.ap).toBeCloseTo(7 / 12, 15);
    });

    it('perfect predictor: AUROC 1, AP 1, F1 1', () => {
      const m = binaryMetrics(make([0.9, 0.8, 0.3, 0.1]), [1, 1, 0, 0]);
      expect(m.auroc).toBe(1);
      expect(m.ap).toBe(1);
      expect(m.f1Max).toBe(1);
      expect(m.f1Threshold).toBeCloseTo(0.8, 7);
    });

    it('inverted predictor: AUROC 0 (1 only behind the compatibility flag), AP 5/12', () => {
      const scores = make([4, 3, 2, 1]);
      const labels = [0, 0, 1, 1];
      expect(rocAuc(scores, labels)).toBe(0);
      expect(binaryMetrics(scores, labels, { flipAurocBelowHalf: true }).auroc).toBe(1);
      // Thresholds 2 (P 1/3, R .5) and 1 (P .5, R 1): AP = .5/3 + .5*.5 = 5/12.
      expect(averagePrecision(scores, labels)).toBeCloseTo(5 / 12, 15);
      expect(f1Max(scores, labels)).toBeCloseTo(2 / 3, 15);
    });

    it('-0 and +0 are one threshold', () => {
      const m = binaryMetrics(make([-0, 0, 1]), [1, 0, 1]);
      expect(m.distinct).toBe(2);
      // 1 -> (1, 0), 0 -> (2, 1): ROC (0,0)->(0,.5)->(1,1): .75.
      expect(m.auroc).toBeCloseTo(0.75, 15);
    });

    it('one label kind: AUROC is null; without positives AP and F1 are null too', () => {
      const onlyNeg = binaryMetrics(make([0.1, 0.2]), [0, 0]);
      expect(onlyNeg.auroc).toBeNull();
      expect(onlyNeg.ap).toBeNull();
      expect(onlyNeg.f1Max).toBeNull();
      const onlyPos = binaryMetrics(make([0.1, 0.2]), [1, 1]);
      expect(onlyPos.auroc).toBeNull();
      expect(onlyPos.ap).toBe(1);
      expect(onlyPos.f1Max).toBe(1);
    });

    it('refuses NaN and infinite scores, labels other than 0/1, and length mismatch', () => {
      expect(() => rocAuc(make([0.1, NaN]), [0, 1])).toThrow(MetricsInputError);
      expect(() => rocAuc(make([0.1, NaN]), [0, 1])).toThrow(/index 1 is not finite/);
      expect(() => rocAuc(make([0.1, Infinity]), [0, 1])).toThrow(/not finite/);
      expect(() => rocAuc(make([0.1, 0.2]), [0, 2])).toThrow(/label 2 at index 1 is not 0 or 1/);
      expect(() => rocAuc(make([0.1, 0.2]), [0])).toThrow(/2 scores but 1 labels/);
    });

    it('curves: ROC from (0,0) to (1,1), PR from (R 0, P 1), thresholds descending', () => {
      const m = binaryMetrics(make([0.1, 0.4, 0.35, 0.8]), [0, 0, 1, 1], { curvePoints: 50 });
      const roc = m.curves!.roc;
      expect(roc.x[0]).toBe(0);
      expect(roc.y[0]).toBe(0);
      expect(roc.thresholds[0]).toBeNull();
      expect(roc.x.at(-1)).toBe(1);
      expect(roc.y.at(-1)).toBe(1);
      expect(roc.x).toEqual([0, 0, 0.5, 0.5, 1]);
      expect(roc.y).toEqual([0, 0.5, 0.5, 1, 1]);
      const pr = m.curves!.pr;
      expect(pr.x).toEqual([0, 0.5, 0.5, 1, 1]);
      expect(pr.y[0]).toBe(1);
      expect(pr.thresholds.slice(1).map((t) => Math.round(t! * 100) / 100)).toEqual([0.8, 0.4, 0.35, 0.1]);
    });
  });
}
