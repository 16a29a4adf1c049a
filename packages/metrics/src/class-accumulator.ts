/**
 * All metrics of one class, fed image by image (the CLI evaluates maps as they come). Adding an image
 * validates it, labels its anomalous regions and stores its scores compactly (4 bytes per pixel plus 4
 * per anomalous pixel); `compute()` then makes one radix pass over the stored scores for every pixel
 * threshold metric, one pass for DSC/IoU at the chosen threshold, and a small sort for image metrics.
 */
import { labelComponents } from './connected-components.js';
import { meanDscIou } from './dsc-iou.js';
import { MetricsInputError } from './errors.js';
import { keyToFloat } from './float-keys.js';
import { imageScore } from './image-score.js';
import { sweepNumbers } from './number-sweep.js';
import { resolveOptions } from './options.js';
import { NonFiniteScoreError, PixelScoreStore, type RegionLabels } from './pixel-score-store.js';
import type { ClassReport, MetricsOptions, ResolvedOptions } from './report-types.js';
import { ABOVE_ALL, ThresholdSweep } from './threshold-sweep.js';
import { flipAuroc } from './binary-metrics.js';

export interface ImageMap {
  /** The anomaly map, row-major height x width. */
  readonly scores: Float32Array;
  /** The ground-truth mask, 0 (normal) or 1 (anomalous) per pixel. */
  readonly mask: Uint8Array;
  readonly height: number;
  readonly width: number;
}

/** How errors name an image: one label, or one for its scores and one for its mask (e.g. tensor names). */
export type ImageLabel = string | { readonly scores: string; readonly mask: string };

export interface ClassMetricsAccumulator {
  /** Adds one image; `where` names it in error messages (default "image <index>"). */
  add(image: ImageMap, where?: ImageLabel): void;
  readonly imageCount: number;
  readonly pixelCount: number;
  /** Computes every metric over the images added so far (more may be added afterwards). */
  compute(): ClassReport;
}

const NO_REGIONS: RegionLabels = { labels: new Int32Array(0), sizes: new Uint32Array(1) };

/** Validates an image map; returns its number of anomalous pixels. */
export function checkImageMap(image: ImageMap, where: ImageLabel): number {
  const { scores, mask, height, width } = image;
  const scoresWhere = typeof where === 'string' ? where : where.scores;
  const maskWhere = typeof where === 'string' ? where : where.mask;
  if (!(scores instanceof Float32Array)) throw new MetricsInputError(`${scoresWhere}: scores must be a Float32Array`);
  if (!(mask instanceof Uint8Array)) throw new MetricsInputError(`${maskWhere}: mask must be a Uint8Array`);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new MetricsInputError(`${scoresWhere}: bad size ${height} x ${width}`);
  }
  const n = height * width;
  if (scores.length !== n) throw new MetricsInputError(`${scoresWhere}: scores hold ${scores.length} values, ${height} x ${width} needs ${n}`);
  if (mask.length !== n) throw new MetricsInputError(`${maskWhere}: mask holds ${mask.length} values, ${height} x ${width} needs ${n}`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const m = mask[i]!;
    if (m > 1) {
      throw new MetricsInputError(`${maskWhere}: mask value ${m} at (y ${Math.floor(i / width)}, x ${i % width}) is not 0 or 1`);
    }
    positives += m;
  }
  return positives;
}

export function createClassMetricsAccumulator(options: MetricsOptions = {}): ClassMetricsAccumulator {
  const opts: ResolvedOptions = resolveOptions(options);
  const store = new PixelScoreStore();
  const imageScores: number[] = [];
  const imageLabels: number[] = [];
  let regions = 0;

  const add = (image: ImageMap, where: ImageLabel = `image ${imageScores.length}`): void => {
    const scoresWhere = typeof where === 'string' ? where : where.scores;
    const positives = checkImageMap(image, where);
    let maxKey: number;
    const components = positives > 0 ? labelComponents(image.mask, image.height, image.width, opts.connectivity) : null;
    try {
      maxKey = store.add(image.scores, image.mask, positives, components ?? NO_REGIONS);
    } catch (e) {
      if (e instanceof NonFiniteScoreError) {
        throw new MetricsInputError(`${scoresWhere}: score ${e.value} at (y ${Math.floor(e.index / image.width)}, x ${e.index % image.width}) is not finite`);
      }
      throw e;
    }
    regions += components?.count ?? 0;
    imageScores.push(opts.imageScore.kind === 'max' ? keyToFloat(maxKey) : imageScore(image.scores, opts.imageScore, scoresWhere));
    imageLabels.push(positives > 0 ? 1 : 0);
  };

  const compute = (): ClassReport => {
    if (imageScores.length === 0) throw new MetricsInputError('no images were added');
    const warnings: string[] = [];
    const pixelSweep = new ThresholdSweep({
      positives: store.positives,
      negatives: store.negatives,
      regions,
      proFprLimit: opts.proFprLimit,
      curvePoints: opts.curvePoints,
    });
    store.sweepStore(pixelSweep);
    const pixel = pixelSweep.finish(keyToFloat);

    let dsc: number | null = null;
    let iou: number | null = null;
    let dscThreshold: number | null = null;
    if (store.positives > 0) {
      const r = meanDscIou(store.images, pixel.dscToken);
      dsc = r.dsc;
      iou = r.iou;
      // The PR curve's final point has no threshold: report the next float32 above the highest score.
      dscThreshold = keyToFloat(pixel.dscToken === ABOVE_ALL ? store.maxKey + 1 : pixel.dscToken);
    } else {
      warnings.push('no anomalous pixels: pixel AUROC, AP, F1-max, DSC, IoU and AU-PRO are undefined (null)');
    }
    if (store.negatives === 0) warnings.push('no normal pixels: pixel AUROC and AU-PRO are undefined (null)');

    const anomalousImages = imageLabels.reduce((a, b) => a + b, 0);
    const normalImages = imageLabels.length - anomalousImages;
    const imageSweep = new ThresholdSweep({
      positives: anomalousImages,
      negatives: normalImages,
      regions: 0,
      proFprLimit: 1,
      curvePoints: opts.curvePoints,
    });
    sweepNumbers(imageScores, imageLabels, imageSweep);
    const img = imageSweep.finish((t) => t);
    if (anomalousImages === 0) warnings.push('no anomalous images: image AUROC, AP and F1-max are undefined (null)');
    if (normalImages === 0) warnings.push('no normal images: image AUROC is undefined (null)');

    return {
      metrics: {
        pixel_auroc: flipAuroc(pixel.auroc, opts.flipAurocBelowHalf),
        pixel_ap: pixel.ap,
        pixel_f1_max: pixel.f1Max,
        dsc,
        iou,
        aupro: pixel.aupro,
        image_auroc: flipAuroc(img.auroc, opts.flipAurocBelowHalf),
        image_ap: img.ap,
        image_f1_max: img.f1Max,
      },
      thresholds: {
        dsc_iou: dscThreshold,
        pixel_f1_max: pixel.f1Max === null || pixel.f1Token === ABOVE_ALL ? null : keyToFloat(pixel.f1Token),
        image_f1_max: img.f1Max === null || img.f1Token === ABOVE_ALL ? null : img.f1Token,
      },
      counts: {
        images: imageScores.length,
        anomalous_images: anomalousImages,
        pixels: store.positives + store.negatives,
        anomalous_pixels: store.positives,
        regions,
        distinct_scores: pixel.distinct,
      },
      curves:
        pixel.curves !== null || img.curves !== null
          ? {
              pixel_roc: pixel.curves?.roc ?? { x: [], y: [], thresholds: [] },
              pixel_pr: pixel.curves?.pr ?? { x: [], y: [], thresholds: [] },
              pixel_pro: pixel.curves?.pro ?? null,
              image_roc: img.curves?.roc ?? { x: [], y: [], thresholds: [] },
              image_pr: img.curves?.pr ?? { x: [], y: [], thresholds: [] },
            }
          : null,
      warnings,
    };
  };

  return {
    add,
    compute,
    get imageCount() {
      return imageScores.length;
    },
    get pixelCount() {
      return store.positives + store.negatives;
    },
  };
}
