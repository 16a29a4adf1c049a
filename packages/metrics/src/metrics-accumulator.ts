/** Metrics for several classes, fed image by image, with the mean over classes. */
import { createClassMetricsAccumulator, type ClassMetricsAccumulator, type ImageLabel, type ImageMap } from './class-accumulator.js';
import { MetricsInputError } from './errors.js';
import { describeImageScore } from './image-score.js';
import { resolveOptions } from './options.js';
import {
  METRIC_KEYS,
  type ClassCounts,
  type ClassCurves,
  type ClassReport,
  type ClassThresholds,
  type MetricValues,
  type MetricsOptions,
  type MetricsReport,
} from './report-types.js';

export interface MetricsAccumulator {
  /** Adds one image of a class; `where` names it in error messages. */
  add(className: string, image: ImageMap, where?: ImageLabel): void;
  readonly classNames: readonly string[];
  /** Computes every class (in the order first added) and the mean; `onClass` reports progress. */
  compute(onClass?: (className: string, index: number, total: number) => void): MetricsReport;
}

/**
 * Mean over classes of each metric, over the classes where it is defined; a warning names the classes
 * left out. A metric undefined for every class is null.
 */
export function meanOverClasses(classes: Readonly<Record<string, MetricValues>>, warnings: string[] = []): MetricValues {
  const names = Object.keys(classes);
  const mean = {} as MetricValues;
  for (const key of METRIC_KEYS) {
    let sum = 0;
    let n = 0;
    const missing: string[] = [];
    for (const name of names) {
      const v = classes[name]![key];
      if (v === null) missing.push(name);
      else {
        sum += v;
        n++;
      }
    }
    mean[key] = n > 0 ? sum / n : null;
    if (missing.length > 0 && n > 0) warnings.push(`mean ${key} is over ${n} of ${names.length} classes (undefined for ${missing.join(', ')})`);
  }
  return mean;
}

/** Builds the whole report from per-class results (in the given order). */
export function assembleReport(perClass: ReadonlyMap<string, ClassReport>, options: MetricsOptions = {}): MetricsReport {
  const opts = resolveOptions(options);
  const classes: Record<string, MetricValues> = {};
  const thresholds: Record<string, ClassThresholds> = {};
  const counts: Record<string, ClassCounts> = {};
  const curves: Record<string, ClassCurves> = {};
  const warnings: string[] = [];
  for (const [name, report] of perClass) {
    classes[name] = report.metrics;
    thresholds[name] = report.thresholds;
    counts[name] = report.counts;
    if (report.curves !== null) curves[name] = report.curves;
    for (const w of report.warnings) warnings.push(`class ${name}: ${w}`);
  }
  const mean = meanOverClasses(classes, warnings);
  return {
    classes,
    mean,
    thresholds,
    counts,
    ...(opts.curvePoints > 0 ? { curves } : {}),
    warnings,
    options: {
      image_score: describeImageScore(opts.imageScore),
      pro_fpr_limit: opts.proFprLimit,
      connectivity: opts.connectivity,
      flip_auroc_below_half: opts.flipAurocBelowHalf,
    },
  };
}

export function createMetricsAccumulator(options: MetricsOptions = {}): MetricsAccumulator {
  resolveOptions(options);
  const perClass = new Map<string, ClassMetricsAccumulator>();
  return {
    add(className, image, where) {
      if (typeof className !== 'string' || className.length === 0) throw new MetricsInputError('class name must be a non-empty string');
      let acc = perClass.get(className);
      if (acc === undefined) {
        acc = createClassMetricsAccumulator(options);
        perClass.set(className, acc);
      }
      acc.add(image, where ?? `class ${className} image ${acc.imageCount}`);
    },
    get classNames() {
      return [...perClass.keys()];
    },
    compute(onClass) {
      if (perClass.size === 0) throw new MetricsInputError('no images were added');
      const results = new Map<string, ClassReport>();
      let index = 0;
      for (const [name, acc] of perClass) {
        onClass?.(name, index++, perClass.size);
        results.set(name, acc.compute());
      }
      return assembleReport(results, options);
    },
  };
}
