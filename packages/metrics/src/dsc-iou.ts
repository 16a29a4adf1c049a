/**
 * DSC and IoU per image at one threshold, averaged over images (the UniAS evaluation): a pixel is
 * predicted anomalous when its score >= the threshold; an image with an empty mask scores 1 when its
 * prediction is empty too, else 0; otherwise Dice = 2|A∩B| / (|A| + |B|) and IoU = |A∩B| / |A∪B|.
 */
import type { ImageKeys } from './pixel-score-store.js';

export interface DscIou {
  readonly dsc: number;
  readonly iou: number;
}

/** Dice and IoU of one image from its counts. */
export function imageDscIou(maskPixels: number, predictedPixels: number, overlap: number): DscIou {
  if (maskPixels === 0) {
    const score = predictedPixels === 0 ? 1 : 0;
    return { dsc: score, iou: score };
  }
  const total = maskPixels + predictedPixels;
  return { dsc: (2 * overlap) / total, iou: overlap / (total - overlap) };
}

function countAtLeast(keys: Uint32Array, threshold: number): number {
  let c = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i]! >= threshold) c++;
  return c;
}

/**
 * Mean DSC and IoU over the stored images at a threshold given as a key (Infinity: nothing predicted).
 */
export function meanDscIou(images: readonly ImageKeys[], thresholdKey: number): DscIou {
  let dscSum = 0;
  let iouSum = 0;
  for (const image of images) {
    const overlap = countAtLeast(image.posKeys, thresholdKey);
    const falseAlarms = countAtLeast(image.negKeys, thresholdKey);
    const r = imageDscIou(image.posKeys.length, overlap + falseAlarms, overlap);
    dscSum += r.dsc;
    iouSum += r.iou;
  }
  return { dsc: dscSum / images.length, iou: iouSum / images.length };
}
