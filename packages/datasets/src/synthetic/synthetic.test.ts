import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchLoader } from '../batch-loader.js';
import { loadMvtec } from '../mvtec.js';
import { createSampleReader } from '../reader.js';
import { makeTempDir } from '../testing/fixtures.js';
import { DEFECT_TYPES, SYNTHETIC_CLASSES } from './classes.js';
import { generateSyntheticDataset, type SyntheticOptions } from './generate.js';
import { renderSyntheticSample, VISIBILITY_THRESHOLD } from './render.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('synthetic'));
});
afterAll(() => cleanup());

const SMALL: Omit<SyntheticOptions, 'root'> = { size: 64, counts: { train: 3, testGood: 2, testDefect: 2 }, seed: 11 };

async function hashTree(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else
        out.set(
          relative(root, p),
          createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
        );
    }
  };
  await walk(root);
  return out;
}

/** Decoded samples and the channel count stored in the file (sharp's raw output expands grey to RGB). */
async function rawPixels(path: string): Promise<{ data: Buffer; channels: number }> {
  const stored = (await sharp(path).metadata()).channels;
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  if (stored !== 1) return { data, channels: stored };
  const grey = Buffer.alloc(info.width * info.height);
  for (let i = 0; i < grey.length; i++) grey[i] = data[i * info.channels]!;
  return { data: grey, channels: 1 };
}

describe('generateSyntheticDataset', () => {
  it('is deterministic: the same seed gives byte-identical files, another seed does not', async () => {
    const a = await hashTree((await generateSyntheticDataset({ ...SMALL, root: join(dir, 'a') })).root);
    const b = await hashTree((await generateSyntheticDataset({ ...SMALL, root: join(dir, 'b') })).root);
    expect(a.size).toBe(5 * (3 + 2) + 20 * 2 * 2 + 1);
    expect(b).toEqual(a);
    const c = await hashTree((await generateSyntheticDataset({ ...SMALL, seed: 12, root: join(dir, 'c') })).root);
    const same = [...c].filter(([k, v]) => k.endsWith('.png') && a.get(k) === v).length;
    expect(same).toBe(0);
  });

  it('writes an MVTec layout the loader reads, with every class and defect type', async () => {
    const ds = await loadMvtec({ root: join(dir, 'a'), check: 'full' });
    expect(ds.classes).toEqual(SYNTHETIC_CLASSES.map((c) => c.name).sort());
    expect(ds.capabilities).toEqual({ imageMetrics: true, pixelMetrics: true, pixelMasks: 'all' });
    expect(new Set(ds.samples.map((s) => s.defectType))).toEqual(new Set(['good', ...DEFECT_TYPES]));
    expect(ds.samples.filter((s) => s.split === 'train')).toHaveLength(15);
  });

  it('masks are exactly the pixels the defect altered, each by at least the visibility threshold', async () => {
    const root = join(dir, 'a');
    const size = SMALL.size!;
    let checked = 0;
    for (const cls of SYNTHETIC_CLASSES) {
      for (const type of cls.defects) {
        for (let index = 0; index < 2; index++) {
          const name = String(index).padStart(3, '0');
          const img = await rawPixels(join(root, cls.name, 'test', type, `${name}.png`));
          const mask = await rawPixels(join(root, cls.name, 'ground_truth', type, `${name}_mask.png`));
          expect(img.channels).toBe(3);
          expect(mask.channels).toBe(1);
          // Regenerate the same sample (pose, lighting, noise) without its defect.
          const clean = renderSyntheticSample({ className: cls.name, size, seed: SMALL.seed!, split: 'test', group: type, index, withDefect: false }).image;
          let area = 0;
          let notBinary = 0;
          let faint = 0;
          let changedOutside = 0;
          const colours = new Set<number>();
          for (let i = 0; i < size * size; i++) {
            const o = i * 3;
            const d = Math.max(Math.abs(img.data[o]! - clean[o]!), Math.abs(img.data[o + 1]! - clean[o + 1]!), Math.abs(img.data[o + 2]! - clean[o + 2]!));
            if (mask.data[i] !== 0 && mask.data[i] !== 255) notBinary++;
            if (mask.data[i]) {
              area++;
              if (d < VISIBILITY_THRESHOLD) faint++;
              colours.add((img.data[o]! << 16) | (img.data[o + 1]! << 8) | img.data[o + 2]!);
            } else if (d !== 0) {
              changedOutside++;
            }
          }
          expect({ notBinary, faint, changedOutside }).toEqual({ notBinary: 0, faint: 0, changedOutside: 0 });
          expect(area).toBeGreaterThanOrEqual(12);
          expect(area).toBeLessThan(0.2 * size * size);
          // Not a flat patch of one colour.
          expect(colours.size).toBeGreaterThan(3);
          checked++;
        }
      }
    }
    expect(checked).toBe(40);
  });

  it('writes normal images exactly as rendered, and varies them only mildly within a class', async () => {
    const size = SMALL.size!;
    for (const cls of SYNTHETIC_CLASSES) {
      const imgs = await Promise.all([0, 1, 2].map((i) => rawPixels(join(dir, 'a', cls.name, 'train', 'good', `00${i}.png`))));
      const rendered = renderSyntheticSample({ className: cls.name, size, seed: SMALL.seed!, split: 'train', group: 'good', index: 0 });
      expect(rendered.mask).toBeNull();
      expect(Buffer.from(rendered.image).equals(imgs[0]!.data)).toBe(true);
      // Mean colour within 8% between two normal images of a class.
      const mean = (b: Buffer, c: number): number => {
        let s = 0;
        for (let i = c; i < b.length; i += 3) s += b[i]!;
        return s / (b.length / 3) / 255;
      };
      for (let c = 0; c < 3; c++) expect(Math.abs(mean(imgs[0]!.data, c) - mean(imgs[1]!.data, c))).toBeLessThan(0.08);
      expect(imgs[0]!.data.equals(imgs[1]!.data)).toBe(false);
    }
  });

  it('reuses an identical set, overwrites only its own sets, and refuses otherwise', async () => {
    const root = join(dir, 'a');
    expect((await generateSyntheticDataset({ ...SMALL, root, ifExists: 'reuse' })).reused).toBe(true);
    await expect(generateSyntheticDataset({ ...SMALL, root })).rejects.toThrow(/already exists/);
    await expect(generateSyntheticDataset({ ...SMALL, seed: 3, root, ifExists: 'reuse' })).rejects.toThrow(/synthetic\.json differs/);
    const foreign = join(dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'precious.txt'), 'keep me');
    await expect(generateSyntheticDataset({ ...SMALL, root: foreign, ifExists: 'overwrite' })).rejects.toThrow(/not a synthetic dataset/);
    expect(await readFile(join(foreign, 'precious.txt'), 'utf8')).toBe('keep me');
    const info = await generateSyntheticDataset({ ...SMALL, classes: ['weave'], root: join(dir, 'c'), ifExists: 'overwrite' });
    expect(info.classes.map((c) => c.name)).toEqual(['weave']);
    expect((await readdir(join(dir, 'c'))).sort()).toEqual(['synthetic.json', 'weave']);
    await expect(generateSyntheticDataset({ ...SMALL, classes: ['nope'], root: join(dir, 'd') })).rejects.toThrow(/unknown synthetic class "nope"/);
  });

  it('feeds the batch loader end to end: real decodes, prefetched, masks where the defects are', async () => {
    const ds = await loadMvtec({ root: join(dir, 'a'), classes: ['washer', 'tablet'] });
    const test = ds.samples.filter((s) => s.split === 'test');
    const loader = createBatchLoader({ samples: test, reader: createSampleReader({ size: 32, normalize: 'none' }), batchSize: 4, shuffle: false, prefetch: 2 });
    await loader.whenPrefetched();
    expect(loader.stats().decodesStarted).toBe(8);
    let seen = 0;
    for await (const b of loader.epoch()) {
      expect(b.images.shape).toEqual([b.paths.length, 3, 32, 32]);
      for (let k = 0; k < b.paths.length; k++) {
        let on = 0;
        for (let i = k * 1024; i < (k + 1) * 1024; i++) on += b.masks.data[i]!;
        if (b.labels.data[k] === 1) expect(on).toBeGreaterThan(0);
        else expect(on).toBe(0);
        const img = b.images.data.subarray(k * 3072, (k + 1) * 3072);
        expect(Math.min(...img)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...img)).toBeLessThanOrEqual(1);
      }
      seen += b.paths.length;
    }
    expect(seen).toBe(test.length);
    await loader.close();
  });
});
