/**
 * Parity with scikit-learn 1.2.1 / scipy: every golden case of the reference file, to 1e-9 absolute.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { evaluateMaps } from './maps-file.js';

const fixture = fileURLToPath(new URL('../test/fixtures/metrics-golden.safetensors', import.meta.url));
const bytes = readFileSync(fixture);
const file = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), fixture);
const golden = JSON.parse(file.metadata['golden']!) as Record<string, Record<string, number>>;
const cases = Object.keys(golden);

const TOL = 1e-9;

describe('golden values (scikit-learn 1.2.1)', () => {
  const report = evaluateMaps(file, {}, fixture);

  it('has the five documented cases, each evaluated as a class', () => {
    expect(cases.sort()).toEqual(['hard', 'smooth', 'spiky', 'ties', 'tiny_defects']);
    expect(Object.keys(report.classes).sort()).toEqual(cases);
  });

  for (const name of cases) {
    it(`${name}: every golden value within 1e-9`, () => {
      const want = golden[name]!;
      const got = report.classes[name]!;
      const pairs: Array<[string, number | null, number]> = [
        ['pixel_auroc', got.pixel_auroc, want['pixel_auroc']!],
        ['pixel_ap', got.pixel_ap, want['pixel_ap']!],
        ['pixel_f1_max', got.pixel_f1_max, want['pixel_f1_max']!],
        ['dsc', got.dsc, want['dsc']!],
        ['iou', got.iou, want['iou']!],
        ['dsc_threshold', report.thresholds[name]!.dsc_iou, want['dsc_threshold']!],
        ['image_auroc', got.image_auroc, want['image_auroc']!],
        ['image_ap', got.image_ap, want['image_ap']!],
        ['aupro_0.3', got.aupro, want['aupro_0.3']!],
      ];
      for (const [key, value, expected] of pairs) {
        expect(value, `${name}.${key}`).not.toBeNull();
        expect(Math.abs(value! - expected), `${name}.${key}: got ${value}, want ${expected}`).toBeLessThanOrEqual(TOL);
      }
    });
  }

  it('the mean is the mean of the classes', () => {
    const n = cases.length;
    const auroc = cases.reduce((s, c) => s + golden[c]!['pixel_auroc']!, 0) / n;
    expect(Math.abs(report.mean.pixel_auroc! - auroc)).toBeLessThanOrEqual(TOL);
    const aupro = cases.reduce((s, c) => s + golden[c]!['aupro_0.3']!, 0) / n;
    expect(Math.abs(report.mean.aupro! - aupro)).toBeLessThanOrEqual(TOL);
  });
});
