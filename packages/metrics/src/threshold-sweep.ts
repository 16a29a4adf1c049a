/**
 * The one pass that every threshold metric shares. It is fed the distinct scores in descending order,
 * each with how many normal and anomalous samples carry it (ties grouped, as scikit-learn's
 * `_binary_clf_curve` does), and keeps running counts from which it computes, on the fly:
 * - AUROC: the trapezoid area of the ROC curve, accumulated in integers (sum over tie groups of
 *   neg * (2 * positives above + pos / group)), exact while 2 * P * N < 2^53;
 * - AP (scikit-learn's step sum: sum over thresholds of (R_k - R_k-1) * P_k), compensated;
 * - F1-max over the points of the PR curve;
 * - the UniAS DSC/IoU threshold: argmax of precision + recall over the PR curve with numpy's argmax
 *   (first maximum in ascending-threshold order, i.e. the lowest threshold among ties; the curve's final
 *   point (P = 1, R = 0) has no threshold and wins only when strictly larger than every other point);
 * - AU-PRO: the PRO curve (mean over regions of the covered fraction, fed as per-pixel weights
 *   1 / region size) against the FPR, trapezoids up to the FPR limit, the last segment interpolated.
 * Thresholds are opaque ordered tokens here (pixel keys or plain numbers); callers decode them.
 */
import { CurveDownsampler, type CurvePoints } from './curve-downsampler.js';

/** Token of the PR curve's final point: above every score, nothing predicted anomalous. */
export const ABOVE_ALL = Infinity;

export interface SweepSetup {
  readonly positives: number;
  readonly negatives: number;
  /** Connected anomalous regions; 0 turns AU-PRO off. */
  readonly regions: number;
  /** FPR limit for AU-PRO, in (0, 1]. */
  readonly proFprLimit: number;
  /** Points kept per curve; 0 keeps no curves. */
  readonly curvePoints: number;
}

export interface SweepCurves {
  readonly roc: CurvePoints;
  readonly pr: CurvePoints;
  readonly pro: CurvePoints | null;
}

export interface SweepResult {
  readonly auroc: number | null;
  readonly ap: number | null;
  readonly f1Max: number | null;
  /** Token of the F1-max point (lowest threshold among ties). */
  readonly f1Token: number;
  /** Token of the UniAS DSC/IoU threshold (ABOVE_ALL when the final PR point wins). */
  readonly dscToken: number;
  readonly aupro: number | null;
  /** Distinct scores seen. */
  readonly distinct: number;
  readonly curves: SweepCurves | null;
}

export class ThresholdSweep {
  private readonly pos: number;
  private readonly neg: number;
  private readonly regions: number;
  private readonly limit: number;
  private tp = 0;
  private fp = 0;
  private distinct = 0;
  private aucTwice = 0;
  private apSum = 0;
  private apComp = 0;
  private f1Best = 0;
  private f1Token = ABOVE_ALL;
  private prBest = 1; // the final point: precision 1 + recall 0
  private prToken = ABOVE_ALL;
  private proOn: boolean;
  private proSum = 0;
  private proComp = 0;
  private proPrevF = 0;
  private proPrevY = 0;
  private proArea = 0;
  private readonly rocCurve: CurveDownsampler | null;
  private readonly prCurve: CurveDownsampler | null;
  private readonly proCurve: CurveDownsampler | null;

  constructor(setup: SweepSetup) {
    this.pos = setup.positives;
    this.neg = setup.negatives;
    this.regions = setup.regions;
    this.limit = setup.proFprLimit;
    if (!(this.limit > 0 && this.limit <= 1)) throw new Error(`AU-PRO FPR limit must be in (0, 1], got ${this.limit}`);
    this.proOn = this.regions > 0 && this.neg > 0;
    const withCurves = setup.curvePoints > 0;
    this.rocCurve = withCurves && this.pos > 0 && this.neg > 0 ? new CurveDownsampler(setup.curvePoints) : null;
    this.prCurve = withCurves && this.pos > 0 ? new CurveDownsampler(setup.curvePoints) : null;
    this.proCurve = withCurves && this.proOn ? new CurveDownsampler(setup.curvePoints, (2 * this.limit) / setup.curvePoints) : null;
    this.rocCurve?.push(0, 0, ABOVE_ALL);
    this.prCurve?.push(0, 1, ABOVE_ALL);
    this.proCurve?.push(0, 0, ABOVE_ALL);
  }

  /** One distinct score (token), lower than every earlier one, with its normal and anomalous counts. */
  push(token: number, negCount: number, posCount: number, posWeight: number): void {
    const tpPrev = this.tp;
    const tp = tpPrev + posCount;
    const fp = this.fp + negCount;
    this.tp = tp;
    this.fp = fp;
    this.distinct++;
    this.aucTwice += negCount * (2 * tpPrev + posCount);
    if (this.pos > 0) {
      const precision = tp / (tp + fp);
      const recall = tp / this.pos;
      // Neumaier-compensated sum of pos * precision.
      const term = posCount * precision;
      const t = this.apSum + term;
      this.apComp += Math.abs(this.apSum) >= Math.abs(term) ? this.apSum - t + term : term - t + this.apSum;
      this.apSum = t;
      const sum = precision + recall;
      const f1 = sum > 0 ? (2 * precision * recall) / sum : 0;
      if (f1 >= this.f1Best) {
        this.f1Best = f1;
        this.f1Token = token;
      }
      if (sum >= this.prBest) {
        this.prBest = sum;
        this.prToken = token;
      }
      if (this.prCurve !== null) {
        this.prCurve.push(recall, precision, token);
        if (this.rocCurve !== null) this.rocCurve.push(fp / this.neg, recall, token);
      }
    }
    if (this.proOn) this.proStep(token, fp, posWeight);
  }

  private proStep(token: number, fp: number, posWeight: number): void {
    const t = this.proSum + posWeight;
    this.proComp += Math.abs(this.proSum) >= Math.abs(posWeight) ? this.proSum - t + posWeight : posWeight - t + this.proSum;
    this.proSum = t;
    const f = fp / this.neg;
    const y = Math.min((this.proSum + this.proComp) / this.regions, 1);
    if (f <= this.limit) {
      this.proArea += 0.5 * (y + this.proPrevY) * (f - this.proPrevF);
      this.proPrevF = f;
      this.proPrevY = y;
      this.proCurve?.push(f, y, token);
    } else {
      const span = this.limit - this.proPrevF;
      const yAt = this.proPrevY + ((y - this.proPrevY) * span) / (f - this.proPrevF);
      this.proArea += 0.5 * (yAt + this.proPrevY) * span;
      // The interpolated end point lies between two thresholds; it takes the lower one.
      if (span > 0) this.proCurve?.push(this.limit, yAt, token);
      this.proOn = false;
    }
  }

  finish(decode: (token: number) => number): SweepResult {
    const both = this.pos > 0 && this.neg > 0;
    if (this.tp !== this.pos || this.fp !== this.neg) {
      throw new Error(`internal: sweep saw ${this.tp} anomalous / ${this.fp} normal samples, expected ${this.pos} / ${this.neg}`);
    }
    const curves: SweepCurves | null =
      this.prCurve !== null || this.rocCurve !== null || this.proCurve !== null
        ? {
            roc: this.rocCurve?.finish(decode) ?? { x: [], y: [], thresholds: [] },
            pr: this.prCurve?.finish(decode) ?? { x: [], y: [], thresholds: [] },
            pro: this.proCurve?.finish(decode) ?? null,
          }
        : null;
    return {
      auroc: both ? this.aucTwice / (2 * this.pos * this.neg) : null,
      ap: this.pos > 0 ? (this.apSum + this.apComp) / this.pos : null,
      f1Max: this.pos > 0 ? this.f1Best : null,
      f1Token: this.f1Token,
      dscToken: this.prToken,
      aupro: this.regions > 0 && this.neg > 0 ? this.proArea / this.limit : null,
      distinct: this.distinct,
      curves,
    };
  }
}
