import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, tinyDataset } from './testing/tiny-run.js';
import { loadData } from './data.js';

describe('loadData', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir('data');
  });
  afterAll(async () => tmp.cleanup());

  it('finds a class named by --classes when its folder is a symbolic link', async () => {
    const store = await tinyDataset(join(tmp.dir, 'store'));
    const root = join(tmp.dir, 'linked');
    await mkdir(root);
    await symlink(join(store, 'washer'), join(root, 'washer'), 'dir');
    const viaLink = await loadData({ roots: [root], format: 'auto', classes: ['washer'] });
    const direct = await loadData({ roots: [store], format: 'auto', classes: ['washer'] });
    expect(viaLink.dataset.classes).toEqual(['washer']);
    expect(viaLink.dataset.samples.map((s) => s.path.replace(root, store))).toEqual(direct.dataset.samples.map((s) => s.path));
    await expect(loadData({ roots: [root], format: 'auto', classes: ['washr'] })).rejects.toThrow(/class "washr" is in none of the dataset roots.*washer/);
  });
});
