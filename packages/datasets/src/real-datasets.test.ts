/**
 * Real images from ../shared/datasets (present on CI and developers' machines, absent from a fresh
 * clone, never committed): hazelnut-toy (.jpg images, .png masks) and mvtec-grid-mini (1024x1024
 * 8-bit grey PNG).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MVTEC_AUGMENTATION } from './augment.js';
import { createBatchLoader } from './batch-loader.js';
import { decodeMask } from '@unias/image';
import { loadMvtec } from './mvtec.js';
import { createSampleReader } from './reader.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const shared = resolve(repoRoot, '../shared/datasets');
const hazelnut = resolve(shared, 'hazelnut-toy');
const grid = resolve(shared, 'mvtec-grid-mini');

describe.skipIf(!existsSync(hazelnut))(`hazelnut-toy (skipped: ${hazelnut} is absent, e.g. in a fresh clone)`, () => {
  it('loads .jpg images with .png masks and decodes them into batches', async () => {
    const ds = await loadMvtec({ root: hazelnut, check: 'full' });
    expect(ds.classes).toEqual(['hazelnut']);
    const count = (split: string, label: number): number => ds.samples.filter((s) => s.split === split && s.label === label).length;
    expect([count('train', 0), count('test', 0), count('test', 1)]).toEqual([28, 6, 17]);
    const defective = ds.samples.filter((s) => s.label === 1);
    expect(defective.every((s) => s.path.endsWith('.jpg') && s.maskPath!.endsWith('_mask.png'))).toBe(true);
    expect(ds.capabilities.pixelMetrics).toBe(true);
    const loader = createBatchLoader({
      samples: defective,
      reader: createSampleReader({ size: 224 }),
      batchSize: 6,
      augmentation: MVTEC_AUGMENTATION,
      seed: 1,
    });
    let withMask = 0;
    for await (const b of loader.epoch()) {
      expect(b.images.shape).toEqual([b.paths.length, 3, 224, 224]);
      for (let k = 0; k < b.paths.length; k++) if (b.masks.data.subarray(k * 224 * 224, (k + 1) * 224 * 224).some((v) => v === 1)) withMask++;
    }
    expect(withMask).toBe(17);
  });
});

describe.skipIf(!existsSync(grid))(`mvtec-grid-mini (skipped: ${grid} is absent, e.g. in a fresh clone)`, () => {
  it('loads 1024x1024 grey PNGs as three equal channels at 224, with every mask', async () => {
    const ds = await loadMvtec({ root: grid });
    expect(ds.classes).toEqual(['grid']);
    expect(ds.samples.filter((s) => s.split === 'train')).toHaveLength(25);
    const defective = ds.samples.filter((s) => s.label === 1);
    expect(defective).toHaveLength(11);
    expect(new Set(defective.map((s) => s.defectType))).toEqual(new Set(['bent', 'broken', 'glue', 'metal_contamination', 'thread']));
    const reader = createSampleReader({ size: 224, normalize: 'none' });
    const plane = 224 * 224;
    for (const s of defective) {
      const d = await reader.read(s);
      expect(d.image.subarray(0, plane)).toEqual(d.image.subarray(plane, 2 * plane));
      expect(d.image.subarray(0, plane)).toEqual(d.image.subarray(2 * plane));
      const full = await decodeMask(s.maskPath!);
      expect([full.width, full.height]).toEqual([1024, 1024]);
      const fullArea = full.data.reduce((a, v) => a + v, 0) / full.data.length;
      const area = d.mask.reduce((a, v) => a + v, 0) / plane;
      // Nearest sampling keeps the defective share of the image to within a few percent (relative).
      expect(area).toBeGreaterThan(0);
      expect(Math.abs(area - fullArea) / fullArea).toBeLessThan(0.25);
    }
  });
});
