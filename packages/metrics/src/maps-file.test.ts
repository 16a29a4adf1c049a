/** evaluateMaps / evaluateMapsFile: the report's shape, the multi-class mean, and bad input. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, writeSafetensorsFile, type TensorToWrite } from '@unias/graph';
import { afterAll, describe, expect, it } from 'vitest';
import { createClassMetricsAccumulator } from './class-accumulator.js';
import { MetricsInputError } from './errors.js';
import { evaluateMaps, evaluateMapsFile } from './maps-file.js';
import { METRIC_KEYS } from './report-types.js';

function pred(shape: number[], data: number[]): TensorToWrite {
  return { shape, data: Float32Array.from(data), dtype: 'F32' };
}
function mask(shape: number[], data: number[]): TensorToWrite {
  return { shape, data: Uint8Array.from(data), dtype: 'U8' };
}
function file(tensors: Record<string, TensorToWrite>) {
  return decodeSafetensors(encodeSafetensors(tensors), 'test.safetensors');
}

// Two 1 x 6 images. Image 0: regions {0,1} and {5}; normal pixels 2..4.
const goodA = {
  'a.pred': pred([2, 1, 6], [0.9, 0.2, 0.8, 0.1, 0.3, 0.7, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]),
  'a.mask': mask([2, 1, 6], [1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
};

describe('evaluateMaps', () => {
  it('AU-PRO by hand: trapezoids of the PRO steps, the last segment cut at the FPR limit', () => {
    // Normal pixels: 0.8, 0.1, 0.3 and six of 0.05 (N = 9). Regions: A = {0.9, 0.2}, B = {0.7}.
    // Thresholds: 0.9 (fpr 0, pro .25), 0.8 (1/9, .25), 0.7 (1/9, .75), 0.3 (2/9, .75), 0.2 (2/9, 1), ...
    // Up to FPR 0.3: 1/9 * .25 + 1/9 * .75 + (0.3 - 2/9) * 1 (0.1 lifts FPR to 3/9 > 0.3 at PRO 1).
    const r = evaluateMaps(file(goodA), { proFprLimit: 0.3 });
    const expected = (1 / 9) * 0.25 + (1 / 9) * 0.75 + (0.3 - 2 / 9) * 1;
    expect(r.classes['a']!.aupro).toBeCloseTo(expected / 0.3, 14);
    const full = evaluateMaps(file(goodA), { proFprLimit: 1 });
    // Beyond 3/9 PRO stays 1: area = 1/9*.25 + 1/9*.75 + (1 - 2/9).
    expect(full.classes['a']!.aupro).toBeCloseTo((1 / 9) * 0.25 + (1 / 9) * 0.75 + 7 / 9, 14);
  });

  it('reports every metric per class, the mean over classes, thresholds, counts and options', () => {
    const b = {
      'b.pred': pred([2, 2, 2], [0.1, 0.2, 0.3, 0.9, 0.1, 0.1, 0.1, 0.1]),
      'b.mask': mask([2, 2, 2], [0, 0, 0, 1, 0, 0, 0, 0]),
    };
    const r = evaluateMaps(file({ ...goodA, ...b }), { curvePoints: 100 });
    expect(Object.keys(r.classes)).toEqual(['a', 'b']);
    for (const key of METRIC_KEYS) {
      expect(r.classes['a']![key], key).toEqual(expect.any(Number));
      expect(r.mean[key]).toBeCloseTo((r.classes['a']![key]! + r.classes['b']![key]!) / 2, 15);
    }
    expect(r.classes['b']!.pixel_auroc).toBe(1);
    expect(r.counts['a']).toEqual({ images: 2, anomalous_images: 1, pixels: 12, anomalous_pixels: 3, regions: 2, distinct_scores: 7 });
    expect(r.thresholds['b']!.dsc_iou).toBeCloseTo(0.9, 7);
    expect(r.curves!['a']!.pixel_roc.x.length).toBeGreaterThan(2);
    expect(r.options).toEqual({ image_score: 'max', pro_fpr_limit: 0.3, connectivity: 8, flip_auroc_below_half: false });
    expect(r.warnings).toEqual([]);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('equals the image-by-image accumulator; N x 1 x H x W maps are accepted', () => {
    const r = evaluateMaps(
      file({ 'a.pred': pred([2, 1, 1, 6], Array.from(goodA['a.pred'].data)), 'a.mask': mask([2, 1, 1, 6], Array.from(goodA['a.mask'].data)) }),
    );
    const acc = createClassMetricsAccumulator();
    const s = Float32Array.from(goodA['a.pred'].data);
    const m = Uint8Array.from(goodA['a.mask'].data);
    acc.add({ scores: s.subarray(0, 6), mask: m.subarray(0, 6), height: 1, width: 6 });
    acc.add({ scores: s.subarray(6), mask: m.subarray(6), height: 1, width: 6 });
    expect(r.classes['a']).toEqual(acc.compute().metrics);
  });

  it('a class with one label kind gets null metrics, a warning, and is left out of the mean', () => {
    const normalOnly = { 'n.pred': pred([1, 1, 3], [0.1, 0.5, 0.2]), 'n.mask': mask([1, 1, 3], [0, 0, 0]) };
    const r = evaluateMaps(file({ ...goodA, ...normalOnly }));
    expect(r.classes['n']!.pixel_auroc).toBeNull();
    expect(r.classes['n']!.image_auroc).toBeNull();
    expect(r.mean.pixel_auroc).toBe(r.classes['a']!.pixel_auroc);
    expect(r.warnings.join('\n')).toMatch(/class n: no anomalous pixels/);
    expect(r.warnings.join('\n')).toMatch(/mean pixel_auroc is over 1 of 2 classes \(undefined for n\)/);
  });

  it('the official "AUROC below 0.5 is flipped" only behind its flag', () => {
    const inverted = { 'i.pred': pred([2, 1, 2], [0.1, 0.9, 0.8, 0.95]), 'i.mask': mask([2, 1, 2], [1, 0, 0, 0]) };
    expect(evaluateMaps(file(inverted)).classes['i']!.pixel_auroc).toBe(0);
    const flipped = evaluateMaps(file(inverted), { flipAurocBelowHalf: true });
    expect(flipped.classes['i']!.pixel_auroc).toBe(1);
    expect(flipped.classes['i']!.image_auroc).toBe(1);
    expect(flipped.options.flip_auroc_below_half).toBe(true);
  });

  const bad: Array<[string, Record<string, TensorToWrite>, RegExp]> = [
    ['a pred without its mask', { 'a.pred': goodA['a.pred'] }, /tensor "a\.pred" has no matching "a\.mask"/],
    ['a mask without its pred', { 'a.mask': goodA['a.mask'] }, /tensor "a\.mask" has no matching "a\.pred"/],
    ['an unknown tensor name', { ...goodA, 'a.logits': goodA['a.pred'] }, /tensor "a\.logits" is neither/],
    [
      'a shape mismatch',
      { 'a.pred': goodA['a.pred'], 'a.mask': mask([2, 2, 3], Array.from(goodA['a.mask'].data)) },
      /tensor "a\.mask" has shape \[2, 2, 3\] but "a\.pred" has \[2, 1, 6\]/,
    ],
    [
      'a non-0/1 mask',
      { 'a.pred': goodA['a.pred'], 'a.mask': mask([2, 1, 6], [0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0]) },
      /tensor "a\.mask" image 1: mask value 255 at \(y 0, x 2\) is not 0 or 1/,
    ],
    [
      'a NaN score',
      { 'a.pred': pred([2, 1, 6], [0, 0, 0, 0, 0, 0, 0, 0, 0, NaN, 0, 0]), 'a.mask': goodA['a.mask'] },
      /tensor "a\.pred" image 1: score NaN at \(y 0, x 3\) is not finite/,
    ],
    [
      'a float64 map',
      { 'a.pred': { shape: [2, 1, 6], data: goodA['a.pred'].data, dtype: 'F64' }, 'a.mask': goodA['a.mask'] },
      /tensor "a\.pred": dtype F64 is not supported/,
    ],
    [
      'an int32 mask',
      { 'a.pred': goodA['a.pred'], 'a.mask': { shape: [2, 1, 6], data: goodA['a.mask'].data, dtype: 'I32' } },
      /tensor "a\.mask": dtype I32 is not supported/,
    ],
    [
      'a rank-2 map',
      { 'a.pred': pred([2, 6], Array.from(goodA['a.pred'].data)), 'a.mask': mask([2, 6], Array.from(goodA['a.mask'].data)) },
      /tensor "a\.pred": shape \[2, 6\] is not N x H x W/,
    ],
    ['no tensors', {}, /no "<class>\.pred" \/ "<class>\.mask" tensors/],
  ];
  for (const [what, tensors, message] of bad) {
    it(`refuses ${what}, naming it`, () => {
      expect(() => evaluateMaps(file(tensors), {}, 'maps.safetensors')).toThrow(MetricsInputError);
      expect(() => evaluateMaps(file(tensors), {}, 'maps.safetensors')).toThrow(message);
    });
  }

  it('refuses bad options', () => {
    expect(() => evaluateMaps(file(goodA), { proFprLimit: 0 })).toThrow(/proFprLimit must be in \(0, 1\]/);
    expect(() => evaluateMaps(file(goodA), { imageScore: { kind: 'top-k-mean', k: 0 } })).toThrow(/k must be an integer >= 1/);
    expect(() => evaluateMaps(file(goodA), { imageScore: { kind: 'top-k-mean', k: 7 } })).toThrow(/k = 7 but the map has only 6 pixels/);
    expect(() => evaluateMaps(file(goodA), { curvePoints: 1 })).toThrow(/curvePoints/);
  });
});

describe('evaluateMapsFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unias-metrics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a safetensors file and reports progress per class', async () => {
    const path = join(dir, 'maps.safetensors');
    await writeSafetensorsFile(path, goodA);
    const events: string[] = [];
    const r = await evaluateMapsFile(path, { onProgress: (e) => events.push(`${e.phase}:${e.className}:${e.index}/${e.total}`) });
    expect(r.classes['a']).toEqual(evaluateMaps(file(goodA)).classes['a']);
    expect(events).toEqual(['add:a:0/1', 'compute:a:0/1']);
  });

  it('names the file when it cannot be read', async () => {
    await expect(evaluateMapsFile(join(dir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors/);
  });
});
