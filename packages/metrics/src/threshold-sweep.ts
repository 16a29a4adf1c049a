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

/** Distinct scores with their counts, filled by a producer and handed to the sweep in one call. */
export class GroupBatch {
  readonly tokens: Float64Array;
  readonly neg: Float64Array;
  readonly pos: Float64Array;
  /** Sum over the group's anomalous pixels of 1 / region size (AU-PRO); 0 when not tracked. */
  readonly weight: Float64Array;
  length = 0;

  constructor(readonly capacity: number) {
    this.tokens = new Float64Array(capacity);
    this.neg = new Float64Array(capacity);
    this.pos = new Float64Array(capacity);
    this.weight = new Float64Array(capacity);
  }
}

export class ThresholdSweep {
  private single: GroupBatch | null = null;
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
    const batch = this.single ?? (this.single = new GroupBatch(1));
    batch.tokens[0] = token;
    batch.neg[0] = negCount;
    batch.pos[0] = posCount;
    batch.weight[0] = posWeight;
    batch.length = 1;
    this.pushBatch(batch);
  }

  /**
   * A run of distinct scores in descending order (continuing the earlier ones). The running state lives
   * in locals for the length of the batch: this loop is the hot path of every pixel metric.
   */
  pushBatch(batch: GroupBatch): void {
    const { tokens, neg, pos: posCounts, weight } = batch;
    const count = batch.length;
    const P = this.pos;
    const N = this.neg;
    const withPrecision = P > 0;
    const withCurves = this.prCurve !== null;
    let tp = this.tp;
    let fp = this.fp;
    let aucTwice = this.aucTwice;
    let apSum = this.apSum;
    let apComp = this.apComp;
    let f1Best = this.f1Best;
    let f1Token = this.f1Token;
    let prBest = this.prBest;
    let prToken = this.prToken;
    for (let k = 0; k < count; k++) {
      const negCount = neg[k]!;
      const posCount = posCounts[k]!;
      const token = tokens[k]!;
      aucTwice += negCount * (2 * tp + posCount);
      tp += posCount;
      fp += negCount;
      if (withPrecision) {
        const precision = tp / (tp + fp);
        const recall = tp / P;
        if (posCount > 0) {
          // Neumaier-compensated sum of pos * precision (AP's steps).
          const term = posCount * precision;
          const t = apSum + term;
          apComp += Math.abs(apSum) >= term ? apSum - t + term : term - t + apSum;
          apSum = t;
        }
        const sum = precision + recall;
        const f1 = sum > 0 ? (2 * precision * recall) / sum : 0;
        if (f1 >= f1Best) {
          f1Best = f1;
          f1Token = token;
        }
        if (sum >= prBest) {
          prBest = sum;
          prToken = token;
        }
        if (withCurves) {
          this.prCurve!.push(recall, precision, token);
          this.rocCurve?.push(fp / N, recall, token);
        }
      }
      if (this.proOn) this.proStep(token, fp, weight[k]!);
    }
    this.tp = tp;
    this.fp = fp;
    this.distinct += count;
    this.aucTwice = aucTwice;
    this.apSum = apSum;
    this.apComp = apComp;
    this.f1Best = f1Best;
    this.f1Token = f1Token;
    this.prBest = prBest;
    this.prToken = prToken;
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
