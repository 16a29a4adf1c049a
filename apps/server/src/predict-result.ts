/**
 * `/predict`'s answer from a model's outputs: score, label at the image threshold, mask at the pixel
 * threshold, heatmap overlay and the quantised map (docs in the README).
 */
import { makeDetection, resolveThresholds, scoreFromMap, type DetectionThresholds, type Label } from '@unias/detector/detection';
import type { TensorMap } from './batcher.js';
import { HttpError, badRequest } from './errors.js';
import { IMAGE_FORMATS_TEXT, type DecodedImage } from './image-input.js';
import type { UniasContract } from './loaded-model.js';
import { renderResult } from './visualize.js';

/**
 * What /predict accepts: the image bytes as the body. Form types (multipart/form-data,
 * application/x-www-form-urlencoded, text/plain) and an empty type are refused: a browser sends
 * those cross-site without a CORS preflight, so any web page could make a visitor's browser spend
 * this server's compute.
 */
export const PREDICT_CONTENT_TYPES = `image/png, image/jpeg, image/webp, image/tiff or application/octet-stream, with the ${IMAGE_FORMATS_TEXT} file as the body`;

export interface PredictResult {
  readonly model: string;
  readonly score: number;
  /** `anomalous` when score >= thresholds.image; null without an image threshold. */
  readonly label: Label | null;
  readonly thresholds: DetectionThresholds;
  /** Sentences about what is missing (no threshold, so no label or mask). */
  readonly notes: readonly string[];
  /** The uploaded image as decoded. */
  readonly image: { readonly width: number; readonly height: number; readonly format: string };
  /** The model's input size (and the size of every picture below). */
  readonly width: number;
  readonly height: number;
  /** Base64 PNG: jet colour map of the map (scaled to its range) blended over the resized image. */
  readonly heatmap: string;
  /** Base64 PNG, 0/255: map >= thresholds.pixel; null without a pixel threshold. */
  readonly mask: string | null;
  /** Base64 8-bit grey PNG of the map over [min, max]: value = min + level / 255 * (max - min). */
  readonly map: { readonly png: string; readonly min: number; readonly max: number; readonly width: number; readonly height: number };
}

/** ServedThresholds a request may give (query parameters), overriding the model's. */
export interface ThresholdOverrides {
  readonly image: number | null;
  readonly pixel: number | null;
}

function thresholdParam(url: URL, key: string): number | null {
  const raw = url.searchParams.get(key);
  if (raw === null || raw === '') return null;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw badRequest(`query parameter ${key}=${raw} is not a finite number`);
  return value;
}

export function thresholdOverrides(url: URL): ThresholdOverrides {
  return { image: thresholdParam(url, 'image_threshold'), pixel: thresholdParam(url, 'pixel_threshold') };
}

/** Checks /predict's content-type rule (the bytes are checked again by their magic number when decoded). */
export function checkPredictContentType(mediaType: string): void {
  if (mediaType.startsWith('image/') || mediaType === 'application/octet-stream') return;
  throw new HttpError(415, `content type '${mediaType || '(none)'}' is not accepted by /predict; send ${PREDICT_CONTENT_TYPES}`);
}

export async function buildPredictResult(
  modelName: string,
  contract: UniasContract,
  image: DecodedImage,
  outputs: TensorMap,
  overrides: ThresholdOverrides,
): Promise<PredictResult> {
  const { height, width } = contract;
  const mapValue = outputs[contract.mapOutput];
  if (mapValue === undefined || !(mapValue.data instanceof Float32Array)) {
    throw new Error(`model '${modelName}' produced no FP32 '${contract.mapOutput}'`);
  }
  const [, , mh, mw] = mapValue.dims;
  if (mh !== height || mw !== width || mapValue.data.length !== height * width) {
    throw new Error(`'${contract.mapOutput}' has shape [${mapValue.dims.join(',')}]; expected [1,1,${height},${width}]`);
  }
  const map = mapValue.data;
  const scoreValue = contract.scoreOutput === null ? undefined : outputs[contract.scoreOutput];
  const score = scoreValue !== undefined && scoreValue.data instanceof Float32Array && scoreValue.data.length === 1 ? scoreValue.data[0]! : scoreFromMap(map);
  // the detector's rules for thresholds, label and mask; the pictures stay at the model's input size
  // (drawn over the resized upload), as this answer has always documented
  const size = { width, height };
  const detection = makeDetection({
    name: modelName,
    score,
    modelMap: map,
    mapSize: size,
    size,
    thresholds: resolveThresholds(contract.thresholds, overrides, 'request'),
    rgb: async () => image.rgb,
  });
  const notes: string[] = [];
  if (detection.thresholds.image === null) {
    notes.push(`model '${modelName}' stores no image threshold (unias.threshold.image) and none was given (?image_threshold=); label is null.`);
  }
  if (detection.thresholds.pixel === null) {
    notes.push(`model '${modelName}' stores no pixel threshold (unias.threshold.pixel) and none was given (?pixel_threshold=); mask is null.`);
  }
  const rendered = await renderResult(detection);
  return {
    model: modelName,
    score: detection.score,
    label: detection.label,
    thresholds: detection.thresholds,
    notes,
    image: image.original,
    width,
    height,
    heatmap: rendered.heatmap.toString('base64'),
    mask: rendered.mask === null ? null : rendered.mask.toString('base64'),
    map: { png: rendered.map.toString('base64'), min: rendered.range.min, max: rendered.range.max, width, height },
  };
}
