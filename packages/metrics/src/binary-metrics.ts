/**
 * Threshold metrics of one score array against 0/1 labels, as scikit-learn 1.2.1 computes them
 * (tied scores form one threshold): AUROC (roc_curve + auc), AP (average_precision_score), F1-max over
 * precision_recall_curve. A Float32Array takes the exact radix path (any size); other arrays are sorted.
 */
import type { CurvePoints } from './curve-downsampler.js';
import { MetricsInputError } from './errors.js';
import { keyToFloat } from './float-keys.js';
import { checkBinaryInput, sweepNumbers } from './number-sweep.js';
import { NonFiniteScoreError, PixelScoreStore } from './pixel-score-store.js';
import { ThresholdSweep } from './threshold-sweep.js';

export interface BinaryMetricsOptions {
  /** Keep ROC and PR curves with at most this many points each (0, the default, keeps none). */
  readonly curvePoints?: number;
  /**
   * Compatibility with the official UniAS code, which reports 1 - AUROC when AUROC < 0.5. Off by default:
   * an inverted predictor should score below 0.5.
   */
  readonly flipAurocBelowHalf?: boolean;
}

export interface BinaryMetrics {
  /** null when only one label kind is present. */
  readonly auroc: number | null;
  /** null when there is no positive label. */
  readonly ap: number | null;
  readonly f1Max: number | null;
  /** The threshold (score >= threshold is positive) of the F1-max point, lowest among ties. */
  readonly f1Threshold: number | null;
  readonly positives: number;
  readonly negatives: number;
  /** Number of distinct scores (thresholds). */
  readonly distinct: number;
  readonly curves: { readonly roc: CurvePoints; readonly pr: CurvePoints } | null;
}

export function flipAuroc(auroc: number | null, flip: boolean | undefined): number | null {
  return flip === true && auroc !== null && auroc < 0.5 ? 1 - auroc : auroc;
}

export function binaryMetrics(scores: Float32Array | ArrayLike<number>, labels: ArrayLike<number>, options: BinaryMetricsOptions = {}): BinaryMetrics {
  const { positives, negatives } = checkBinaryInput(scores, labels, 'binaryMetrics');
  const sweep = new ThresholdSweep({ positives, negatives, regions: 0, proFprLimit: 1, curvePoints: options.curvePoints ?? 0 });
  let decode: (token: number) => number;
  if (scores instanceof Float32Array) {
    const store = new PixelScoreStore();
    const labelBytes = labels instanceof Uint8Array ? labels : Uint8Array.from(labels);
    try {
      store.add(scores, labelBytes, positives, null);
    } catch (e) {
      if (e instanceof NonFiniteScoreError) throw new MetricsInputError(`binaryMetrics: ${e.message}`);
      throw e;
    }
    store.sweepStore(sweep);
    decode = keyToFloat;
  } else {
    sweepNumbers(scores, labels, sweep);
    decode = (t) => t;
  }
  const r = sweep.finish(decode);
  return {
    auroc: flipAuroc(r.auroc, options.flipAurocBelowHalf),
    ap: r.ap,
    f1Max: r.f1Max,
    f1Threshold: r.f1Max === null || r.f1Token === Infinity ? null : decode(r.f1Token),
    positives,
    negatives,
    distinct: r.distinct,
    curves: r.curves === null ? null : { roc: r.curves.roc, pr: r.curves.pr },
  };
}

/** AUROC (scikit-learn roc_curve + auc); null when only one label kind is present. */
export function rocAuc(scores: Float32Array | ArrayLike<number>, labels: ArrayLike<number>): number | null {
  return binaryMetrics(scores, labels).auroc;
}

/** Average precision (scikit-learn average_precision_score); null without positives. */
export function averagePrecision(scores: Float32Array | ArrayLike<number>, labels: ArrayLike<number>): number | null {
  return binaryMetrics(scores, labels).ap;
}

/** Max F1 over the points of the PR curve; null without positives. */
export function f1Max(scores: Float32Array | ArrayLike<number>, labels: ArrayLike<number>): number | null {
  return binaryMetrics(scores, labels).f1Max;
}
