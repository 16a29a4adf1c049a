import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensorsFile } from '@unias/graph';
import { runCli, tempDir } from '../testing/helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('metrics');
});
afterAll(async () => tmp.cleanup());

describe('unias metrics', () => {
  it('prints {classes, mean, ...} of a maps file: closed-form values of a perfect and an inverted predictor', async () => {
    // 3 images of 4x4: image 0 normal, images 1 and 2 with a 2x2 and a 1x1 defect
    const mask = new Uint8Array(3 * 16);
    for (const i of [16 + 5, 16 + 6, 16 + 9, 16 + 10, 32 + 15]) mask[i] = 1;
    const positives = 5;
    const perfect = Float32Array.from(mask, (m, i) => (m ? 0.5 + i / 1000 : (i % 7) / 100));
    const inverted = Float32Array.from(mask, (m) => (m ? 0 : 1));
    const file = join(tmp.dir, 'maps.safetensors');
    await writeSafetensorsFile(file, {
      'good.pred': { shape: [3, 4, 4], data: perfect, dtype: 'F32' },
      'good.mask': { shape: [3, 4, 4], data: mask, dtype: 'U8' },
      'bad.pred': { shape: [3, 1, 4, 4], data: inverted, dtype: 'F32' },
      'bad.mask': { shape: [3, 1, 4, 4], data: mask, dtype: 'U8' },
    });
    const r = await runCli(['metrics', '--input', file, '--out', join(tmp.dir, 'm.json')]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { classes: Record<string, Record<string, number | null>>; mean: Record<string, number | null> };
    expect(Object.keys(report).sort()).toEqual(['classes', 'counts', 'mean', 'options', 'thresholds', 'warnings']);
    expect(report.classes['good']).toMatchObject({ pixel_auroc: 1, pixel_ap: 1, pixel_f1_max: 1, dsc: 1, iou: 1, aupro: 1, image_auroc: 1, image_ap: 1 });
    // every pixel scored 0 or 1, anomalous ones 0: AUROC 0, AP = the prevalence
    expect(report.classes['bad']!['pixel_auroc']).toBe(0);
    expect(report.classes['bad']!['pixel_ap']).toBeCloseTo(positives / 48, 12);
    expect(report.mean['pixel_ap']).toBeCloseTo((1 + positives / 48) / 2, 12);
    const table = await runCli(['metrics', '--input', file, '--table']);
    expect(table.stdout).toMatch(/^good\s+100\.0\s+100\.0/m);
  });
});
