import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import { loadMvtec } from './mvtec.js';
import { gradient, makeTempDir, rectMask, writeJpeg, writeMvtecTree, writePng } from './testing/fixtures.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
beforeEach(async () => {
  ({ dir: root, cleanup } = await makeTempDir('mvtec'));
});
afterEach(() => cleanup());

describe('loadMvtec', () => {
  it('lists every sample with split, label, defect type and mask, for several classes', async () => {
    await writeMvtecTree(root, {
      bottle: { train: 3, testGood: 2, defects: { broken: 2, crack: 1 } },
      grid: { train: 2, testGood: 1, defects: { bent: 1 } },
    });
    const ds = await loadMvtec({ root });
    expect(ds.classes).toEqual(['bottle', 'grid']);
    expect(ds.samples).toHaveLength(3 + 2 + 3 + 2 + 1 + 1);
    const bottleTrain = ds.samples.filter((s) => s.className === 'bottle' && s.split === 'train');
    expect(bottleTrain.map((s) => s.path)).toEqual([0, 1, 2].map((i) => join(root, 'bottle', 'train', 'good', `00${i}.png`)));
    expect(bottleTrain.every((s) => s.label === 0 && s.maskPath === null && s.defectType === 'good')).toBe(true);
    const broken1 = ds.samples.find((s) => s.path === join(root, 'bottle', 'test', 'broken', '001.png'))!;
    expect(broken1).toEqual({
      path: broken1.path,
      className: 'bottle',
      split: 'test',
      label: 1,
      defectType: 'broken',
      maskPath: join(root, 'bottle', 'ground_truth', 'broken', '001_mask.png'),
    });
    expect(ds.samples.filter((s) => s.split === 'test' && s.defectType === 'good').every((s) => s.label === 0 && s.maskPath === null)).toBe(true);
    expect(ds.capabilities).toEqual({ imageMetrics: true, pixelMetrics: true, pixelMasks: 'all' });
    expect(ds.description).toMatch(/2 classes \(bottle, grid\)/);
    expect(ds.report.issues).toEqual([]);
  });

  it('follows symbolic links to class and defect-type folders (datasets assembled from other disks)', async () => {
    await writeMvtecTree(join(root, 'store'), {
      bottle: { train: 3, testGood: 1, defects: { broken: 2 } },
      grid: { train: 2, testGood: 1, defects: { bent: 1 } },
    });
    const data = join(root, 'data');
    await mkdir(data);
    // a linked class, and a real class whose defect type is itself a link
    await symlink(join(root, 'store', 'bottle'), join(data, 'bottle'), 'dir');
    await rename(join(root, 'store', 'grid'), join(data, 'grid'));
    await rename(join(data, 'grid', 'test', 'bent'), join(root, 'store', 'bent'));
    await symlink(join(root, 'store', 'bent'), join(data, 'grid', 'test', 'bent'), 'dir');
    const ds = await loadMvtec({ root: data });
    expect(ds.classes).toEqual(['bottle', 'grid']);
    expect(ds.samples.filter((s) => s.className === 'bottle')).toHaveLength(3 + 1 + 2);
    expect(ds.samples.filter((s) => s.className === 'grid' && s.defectType === 'bent').map((s) => s.path)).toEqual([
      join(data, 'grid', 'test', 'bent', '000.png'),
    ]);
    expect(ds.report.issues).toEqual([]);
  });

  it('takes a class folder given as the root as that one class (KSDD ships so)', async () => {
    await writeMvtecTree(root, { ksdd: { train: 2, testGood: 1, defects: { crack: 2 } } });
    const viaParent = await loadMvtec({ root });
    const direct = await loadMvtec({ root: join(root, 'ksdd') });
    expect(direct.classes).toEqual(['ksdd']);
    expect(direct.samples).toEqual(viaParent.samples);
    expect(direct.samples.filter((s) => s.label === 1).every((s) => s.maskPath?.includes(join('ksdd', 'ground_truth', 'crack')))).toBe(true);
  });

  it('accepts any image extension: .jpg images with .png masks', async () => {
    await writeMvtecTree(root, { hazelnut: { train: 2, testGood: 1, defects: { colour: 2 }, ext: 'jpg' } });
    const ds = await loadMvtec({ root, classes: ['hazelnut'] });
    const defective = ds.samples.filter((s) => s.label === 1);
    expect(defective.map((s) => [s.path.endsWith('.jpg'), s.maskPath?.endsWith('_mask.png')])).toEqual([
      [true, true],
      [true, true],
    ]);
  });

  it('refuses a defective image without its mask, naming it', async () => {
    await writeMvtecTree(root, { screw: { train: 2, testGood: 1, defects: { scratch: 2 } } });
    await rm(join(root, 'screw', 'ground_truth', 'scratch', '001_mask.png'));
    const err = await loadMvtec({ root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toContain(join(root, 'screw', 'test', 'scratch', '001.png'));
    expect((err as Error).message).toMatch(/no mask/);
    // In skip mode the image is dropped and the report names it.
    const ds = await loadMvtec({ root, onBadInput: 'skip' });
    expect(ds.samples.some((s) => s.path.endsWith(join('scratch', '001.png')))).toBe(false);
    expect(ds.report.issues).toEqual([
      { file: join(root, 'screw', 'test', 'scratch', '001.png'), problem: expect.stringMatching(/no mask/), action: 'skipped-sample' },
    ]);
  });

  it('refuses a mask of another size than its image', async () => {
    await writeMvtecTree(root, { tile: { train: 2, testGood: 1, defects: { crack: 1 } } });
    const mask = join(root, 'tile', 'ground_truth', 'crack', '000_mask.png');
    await writePng(mask, rectMask(20, 16, 0, 0, 4, 4));
    await expect(loadMvtec({ root })).rejects.toThrow(/000_mask\.png: mask is 20x16 but its image .*000\.png is 16x16/);
    // The structure check does not open files; the reader still refuses it (see reader tests).
    expect((await loadMvtec({ root, check: 'structure' })).samples).toHaveLength(4);
  });

  it('refuses an unreadable file (header check) and a truncated one (full check)', async () => {
    await writeMvtecTree(root, { wood: { train: 3, testGood: 1, defects: {} } }, 64);
    await writeFile(join(root, 'wood', 'train', 'good', '000.png'), 'garbage');
    await expect(loadMvtec({ root })).rejects.toThrow(/000\.png: cannot read image header/);
    await writeMvtecTree(root, { wood: { train: 3, testGood: 1, defects: {} } }, 64);
    const whole = await import('node:fs/promises').then((fs) => fs.readFile(join(root, 'wood', 'train', 'good', '001.png')));
    await writeFile(join(root, 'wood', 'train', 'good', '001.png'), whole.subarray(0, Math.floor(whole.length * 0.7)));
    const full = await loadMvtec({ root, check: 'full' }).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(DatasetError);
    expect((full as DatasetError).issues.map((i) => i.file)).toEqual([join(root, 'wood', 'train', 'good', '001.png')]);
    const skipped = await loadMvtec({ root, check: 'full', onBadInput: 'skip' });
    expect(skipped.samples.filter((s) => s.split === 'train')).toHaveLength(2);
  });

  it('refuses an empty class', async () => {
    await writeMvtecTree(root, { carpet: { train: 2, testGood: 1, defects: { hole: 1 } } });
    await mkdir(join(root, 'empty', 'train', 'good'), { recursive: true });
    await mkdir(join(root, 'empty', 'test'), { recursive: true });
    await expect(loadMvtec({ root })).rejects.toThrow(/empty.*train.*good.*no training images/s);
    const ds = await loadMvtec({ root, onBadInput: 'skip' });
    expect(ds.classes).toEqual(['carpet']);
    expect(ds.report.issues.map((i) => i.action)).toEqual(['skipped-class']);
    await expect(loadMvtec({ root, classes: ['carpet', 'nothere'] })).rejects.toThrow(/class nothere was requested but has no folder/);
  });

  it('never labels silently: a good test image with a mask, and a mask matching no image, are errors', async () => {
    await writeMvtecTree(root, { pill: { train: 2, testGood: 2, defects: { crack: 1 } } });
    await writePng(join(root, 'pill', 'ground_truth', 'good', '001_mask.png'), rectMask(16, 16, 0, 0, 2, 2));
    await expect(loadMvtec({ root })).rejects.toThrow(/test\/good image has a mask/);
    await rm(join(root, 'pill', 'ground_truth', 'good'), { recursive: true });
    await writePng(join(root, 'pill', 'ground_truth', 'crack', '007_mask.png'), rectMask(16, 16, 0, 0, 2, 2));
    await expect(loadMvtec({ root })).rejects.toThrow(/007_mask\.png: mask matches no image/);
    const ds = await loadMvtec({ root, onBadInput: 'skip' });
    expect(ds.report.issues).toEqual([
      { file: join(root, 'pill', 'ground_truth', 'crack', '007_mask.png'), problem: expect.any(String), action: 'ignored-file' },
    ]);
  });

  it('notes non-image files and refuses masks for a defect type without test images', async () => {
    await writeMvtecTree(root, { zipper: { train: 2, testGood: 1, defects: { split_teeth: 1 } } });
    await writeFile(join(root, 'zipper', 'train', 'good', 'notes.txt'), 'hello');
    await writeFile(join(root, 'zipper', 'train', 'good', '.DS_Store'), '');
    const ds = await loadMvtec({ root });
    expect(ds.report.notes).toEqual([expect.stringMatching(/notes\.txt/)]);
    await writePng(join(root, 'zipper', 'ground_truth', 'rough', '000_mask.png'), rectMask(16, 16, 0, 0, 2, 2));
    await expect(loadMvtec({ root })).rejects.toThrow(/ground_truth\/rough: masks for defect type rough but no test\/rough folder/);
  });

  it('orients JPEG images before comparing their size with the mask', async () => {
    await writeMvtecTree(root, { nut: { train: 1, testGood: 0, defects: {} } });
    // Stored 24x16 with orientation 6: displayed 16x24, and its mask is 16x24.
    await writeJpeg(join(root, 'nut', 'test', 'flip', '000.jpg'), gradient(24, 16), 6);
    await writePng(join(root, 'nut', 'ground_truth', 'flip', '000_mask.png'), rectMask(16, 24, 0, 0, 4, 4));
    const ds = await loadMvtec({ root });
    expect(ds.samples.filter((s) => s.label === 1)).toHaveLength(1);
  });
});
