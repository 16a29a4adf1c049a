import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { combineDatasets, loadDatasets } from './combine.js';
import { loadFolder } from './folder.js';
import { gradient, makeTempDir, rectMask, writeMvtecTree, writePng } from './testing/fixtures.js';

let root = '';
let cleanup: () => Promise<void> = async () => {};
beforeEach(async () => {
  ({ dir: root, cleanup } = await makeTempDir('folder'));
});
afterEach(() => cleanup());

async function images(dir: string, names: readonly string[]): Promise<void> {
  for (const [i, n] of names.entries()) await writePng(join(root, dir, n), gradient(16, 16, i));
}

describe('loadFolder', () => {
  it('without masks: defects are test samples and only image-level metrics are possible', async () => {
    await images('ok', ['a.png', 'b.png', 'c.png', 'd.png']);
    await images('ok-test', ['e.png']);
    await images('dents', ['x.png', 'y.png']);
    await images('rust', ['z.png']);
    const ds = await loadFolder({ root, className: 'part', normal: 'ok', normalTest: 'ok-test', defects: { dent: 'dents', rust: { images: 'rust' } } });
    expect(ds.samples.map((s) => [s.split, s.label, s.defectType, s.maskPath])).toEqual([
      ['train', 0, 'good', null],
      ['train', 0, 'good', null],
      ['train', 0, 'good', null],
      ['train', 0, 'good', null],
      ['test', 0, 'good', null],
      ['test', 1, 'dent', null],
      ['test', 1, 'dent', null],
      ['test', 1, 'rust', null],
    ]);
    expect(ds.capabilities).toEqual({ imageMetrics: true, pixelMetrics: false, pixelMasks: 'none' });
    expect(ds.description).toMatch(/only image-level metrics are possible/);
  });

  it('with masks for some defect types: pixel metrics flagged partial', async () => {
    await images('ok', ['a.png', 'b.png']);
    await images('dents', ['x.png', 'y.png']);
    await writePng(join(root, 'dent-masks', 'x_mask.png'), rectMask(16, 16, 1, 1, 5, 5));
    await writePng(join(root, 'dent-masks', 'y.png'), rectMask(16, 16, 1, 1, 5, 5));
    await images('rust', ['z.png']);
    const ds = await loadFolder({
      root,
      className: 'part',
      normal: 'ok',
      normalTestFraction: 0.5,
      seed: 3,
      defects: { dent: { images: 'dents', masks: 'dent-masks' }, rust: 'rust' },
    });
    expect(ds.samples.filter((s) => s.defectType === 'dent').map((s) => s.maskPath)).toEqual([
      join(root, 'dent-masks', 'x_mask.png'),
      join(root, 'dent-masks', 'y.png'),
    ]);
    expect(
      ds.samples
        .filter((s) => s.label === 0)
        .map((s) => s.split)
        .sort(),
    ).toEqual(['test', 'train']);
    expect(ds.capabilities.pixelMasks).toBe('partial');
    expect(ds.capabilities.pixelMetrics).toBe(false);
    expect(ds.description).toMatch(/1 defective test images have no mask/);
  });

  it("a promised mask folder that lacks an image's mask is an error", async () => {
    await images('ok', ['a.png']);
    await images('dents', ['x.png', 'y.png']);
    await writePng(join(root, 'dent-masks', 'x_mask.png'), rectMask(16, 16, 1, 1, 5, 5));
    await expect(loadFolder({ root, className: 'part', normal: 'ok', defects: { dent: { images: 'dents', masks: 'dent-masks' } } })).rejects.toThrow(
      /dents\/y\.png: defective image has no mask/,
    );
  });

  it('an empty normal folder is an empty class', async () => {
    await images('dents', ['x.png']);
    await writePng(join(root, 'ok', '.keep.png'), gradient(4, 4));
    await expect(loadFolder({ root, className: 'part', normal: 'ok', defects: { dent: 'dents' } })).rejects.toThrow(/part has no usable training images/);
  });
});

describe('several roots together', () => {
  it('loads MVTec and folder sources into one unified set, refusing clashing class names', async () => {
    await writeMvtecTree(join(root, 'a'), { bottle: { train: 2, testGood: 1, defects: { crack: 1 } } });
    await writeMvtecTree(join(root, 'b'), { bottle: { train: 3, testGood: 1, defects: { crack: 1 } }, cable: { train: 1, testGood: 1, defects: { cut: 1 } } });
    await images('ok', ['a.png']);
    const ds = await loadDatasets([
      { format: 'mvtec', root: join(root, 'a') },
      { format: 'mvtec', root: join(root, 'b'), classPrefix: 'b/' },
      { format: 'folder', root, className: 'part', normal: 'ok' },
    ]);
    expect(ds.format).toBe('mixed');
    expect(ds.classes).toEqual(['bottle', 'b/bottle', 'b/cable', 'part']);
    expect(ds.samples.filter((s) => s.className === 'b/bottle')).toHaveLength(5);
    expect(ds.roots).toHaveLength(3);
    const a = await loadDatasets([{ format: 'mvtec', root: join(root, 'a') }]);
    const b = await loadDatasets([{ format: 'mvtec', root: join(root, 'b') }]);
    expect(() => combineDatasets([a, b])).toThrow(/class bottle is also loaded from .*\/a; give one source a classPrefix/);
  });
});
