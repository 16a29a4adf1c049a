import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/helpers.js';
import { outputNames } from './output-names.js';
import { collectImages } from './predict.js';

describe('predict output names', () => {
  it('are unique, case-insensitively, including against the suffixes they add', () => {
    const names = outputNames(['x.png', 'x.jpg', 'x-2.png', 'X.png', 'a/b.png', 'a__b.png', 'a/b/c.tif', 'a__b__c.png']);
    expect(names).toEqual(['x', 'x-2', 'x-2-2', 'X-3', 'a__b', 'a__b-2', 'a__b__c', 'a__b__c-2']);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
  });

  describe('collectImages', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    beforeAll(async () => {
      tmp = await tempDir('collect');
    });
    afterAll(async () => tmp.cleanup());

    it('follows linked folders once, and a link back up the tree does not loop', async () => {
      const root = join(tmp.dir, 'photos');
      const elsewhere = join(tmp.dir, 'elsewhere');
      await mkdir(join(root, 'sub'), { recursive: true });
      await mkdir(elsewhere);
      for (const f of [join(root, 'x.png'), join(root, 'x.jpg'), join(root, 'sub', 'y.png'), join(elsewhere, 'z.png')]) await writeFile(f, '');
      await symlink(elsewhere, join(root, 'linked'), 'dir');
      await symlink(root, join(root, 'sub', 'up'), 'dir');
      const found = await collectImages([root]);
      expect(found.map((f) => [f.path.slice(tmp.dir.length + 1), f.name])).toEqual([
        ['photos/linked/z.png', 'linked__z'],
        ['photos/sub/y.png', 'sub__y'],
        ['photos/x.jpg', 'x'],
        ['photos/x.png', 'x-2'],
      ]);
    });
  });
});
