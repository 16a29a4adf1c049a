/** The shapes of metric results (JSON-ready: snake_case keys, null for undefined metrics). */
import type { Connectivity } from './connected-components.js';
import type { CurvePoints } from './curve-downsampler.js';
import type { ImageScoreRule } from './image-score.js';

export const METRIC_KEYS = ['pixel_auroc', 'pixel_ap', 'pixel_f1_max', 'dsc', 'iou', 'aupro', 'image_auroc', 'image_ap', 'image_f1_max'] as const;

export type MetricKey = (typeof METRIC_KEYS)[number];

/** One value per metric; null where the metric is undefined for the data (see `warnings`). */
export type MetricValues = Record<MetricKey, number | null>;

export interface ClassThresholds {
  /** The UniAS DSC/IoU threshold (score >= threshold is anomalous). */
  readonly dsc_iou: number | null;
  /** Threshold of the pixel F1-max point. */
  readonly pixel_f1_max: number | null;
  /** Threshold of the image F1-max point (on image scores). */
  readonly image_f1_max: number | null;
}

export interface ClassCounts {
  readonly images: number;
  readonly anomalous_images: number;
  readonly pixels: number;
  readonly anomalous_pixels: number;
  readonly regions: number;
  /** Distinct pixel scores, i.e. thresholds of the pixel curves. */
  readonly distinct_scores: number;
}

/** Downsampled curves for plotting; x/y are FPR/TPR (ROC), recall/precision (PR), FPR/PRO (PRO, up to the limit). */
export interface ClassCurves {
  readonly pixel_roc: CurvePoints;
  readonly pixel_pr: CurvePoints;
  readonly pixel_pro: CurvePoints | null;
  readonly image_roc: CurvePoints;
  readonly image_pr: CurvePoints;
}

export interface ClassReport {
  readonly metrics: MetricValues;
  readonly thresholds: ClassThresholds;
  readonly counts: ClassCounts;
  readonly curves: ClassCurves | null;
  /** Why a metric is null, one line each. */
  readonly warnings: string[];
}

export interface MetricsOptions {
  /** Image score from a map: the max (default) or the mean of the top k values. */
  readonly imageScore?: ImageScoreRule;
  /** FPR limit of AU-PRO, in (0, 1]; default 0.3. */
  readonly proFprLimit?: number;
  /** Connectivity of anomalous regions for AU-PRO; default 8. */
  readonly connectivity?: Connectivity;
  /** Keep curves with at most this many points each (>= 2); 0 (the default) keeps none. */
  readonly curvePoints?: number;
  /** The official UniAS code reports 1 - AUROC when AUROC < 0.5 (pixel and image). Off by default. */
  readonly flipAurocBelowHalf?: boolean;
}

export interface ResolvedOptions {
  readonly imageScore: ImageScoreRule;
  readonly proFprLimit: number;
  readonly connectivity: Connectivity;
  readonly curvePoints: number;
  readonly flipAurocBelowHalf: boolean;
}

export interface MetricsReport {
  readonly classes: Record<string, MetricValues>;
  /** Mean over the classes where each metric is defined (see warnings when some are left out). */
  readonly mean: MetricValues;
  readonly thresholds: Record<string, ClassThresholds>;
  readonly counts: Record<string, ClassCounts>;
  /** Present when curves were asked for (`curvePoints` > 0). */
  readonly curves?: Record<string, ClassCurves>;
  readonly warnings: string[];
  readonly options: {
    readonly image_score: string;
    readonly pro_fpr_limit: number;
    readonly connectivity: Connectivity;
    readonly flip_auroc_below_half: boolean;
  };
}
