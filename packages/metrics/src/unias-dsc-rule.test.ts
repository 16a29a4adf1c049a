/** The UniAS DSC/IoU rule: threshold choice (argmax of P + R, lowest threshold among ties) and per-image scoring. */
import { describe, expect, it } from 'vitest';
import { createClassMetricsAccumulator, type ImageMap } from './class-accumulator.js';
import { imageDscIou, meanDscIou } from './dsc-iou.js';
import { floatToKey, keyToFloat } from './float-keys.js';
import { ABOVE_ALL } from './threshold-sweep.js';

function row(scores: number[], mask: number[]): ImageMap {
  return { scores: Float32Array.from(scores), mask: Uint8Array.from(mask), height: 1, width: scores.length };
}

function evaluate(images: ImageMap[]) {
  const acc = createClassMetricsAccumulator();
  for (const im of images) acc.add(im);
  return acc.compute();
}

describe('UniAS DSC/IoU rule', () => {
  it('picks the threshold with the largest P + R and scores empty masks 1 or 0', () => {
    // Pixels: anomalous 0.9, 0.8; normal 0.95, 0.2 x4, 0.1 x5. P + R by threshold:
    // 0.95 -> 0, 0.9 -> 1, 0.8 -> 2/3 + 1 (best), 0.2 -> 2/7 + 1, 0.1 -> 1/6 + 1.
    const r = evaluate([
      row([0.9, 0.8, 0.1, 0.1], [1, 1, 0, 0]), // exact hit: 1
      row([0.2, 0.2, 0.2, 0.2], [0, 0, 0, 0]), // empty mask, empty prediction: 1
      row([0.95, 0.1, 0.1, 0.1], [0, 0, 0, 0]), // empty mask, a false alarm: 0
    ]);
    expect(r.thresholds.dsc_iou).toBeCloseTo(0.8, 7);
    expect(r.metrics.dsc).toBeCloseTo(2 / 3, 15);
    expect(r.metrics.iou).toBeCloseTo(2 / 3, 15);
  });

  it('among equal P + R takes the lowest threshold (numpy argmax over ascending thresholds)', () => {
    // Thresholds ascending 0.1, 0.5, 0.9 give P + R = 1.4, 1.5, 1.5 (exactly): argmax -> 0.5.
    const r = evaluate([row([0.9, 0.5, 0.5, 0.5, 0.1], [1, 1, 0, 0, 0])]);
    expect(r.thresholds.dsc_iou).toBe(0.5);
    // At 0.5: prediction {0,1,2,3}, mask {0,1}: Dice 4/6, IoU 2/4.
    expect(r.metrics.dsc).toBeCloseTo(2 / 3, 15);
    expect(r.metrics.iou).toBeCloseTo(0.5, 15);
  });

  it('per-image Dice and IoU, with the empty-mask rule', () => {
    expect(imageDscIou(0, 0, 0)).toEqual({ dsc: 1, iou: 1 });
    expect(imageDscIou(0, 3, 0)).toEqual({ dsc: 0, iou: 0 });
    expect(imageDscIou(4, 0, 0)).toEqual({ dsc: 0, iou: 0 });
    expect(imageDscIou(4, 6, 3)).toEqual({ dsc: 0.6, iou: 3 / 7 });
  });

  it("the PR curve's final point (no threshold) predicts nothing: empty masks 1, others 0", () => {
    // The accumulator passes ABOVE_ALL when argmax lands on the final point (P = 1, R = 0).
    const images = [
      { negKeys: Uint32Array.of(floatToKey(0.3)), posKeys: new Uint32Array(0) },
      { negKeys: Uint32Array.of(floatToKey(0.1)), posKeys: Uint32Array.of(floatToKey(0.9)) },
    ];
    expect(meanDscIou(images, ABOVE_ALL)).toEqual({ dsc: 0.5, iou: 0.5 });
    // Its reported threshold is the next float32 above the highest score, so ">= threshold" still holds.
    const above = keyToFloat(floatToKey(0.9) + 1);
    expect(above).toBeGreaterThan(Math.fround(0.9));
    expect(Math.fround(above)).toBe(above);
    expect(above - Math.fround(0.9)).toBeLessThan(1e-7);
  });

  it('a class without anomalous pixels has DSC/IoU null, with a warning', () => {
    const r = evaluate([row([0.2, 0.3], [0, 0]), row([0.1, 0.9], [0, 0])]);
    expect(r.metrics.dsc).toBeNull();
    expect(r.metrics.iou).toBeNull();
    expect(r.metrics.pixel_auroc).toBeNull();
    expect(r.metrics.aupro).toBeNull();
    expect(r.thresholds.dsc_iou).toBeNull();
    expect(r.warnings.join('\n')).toMatch(/no anomalous pixels/);
  });
});
