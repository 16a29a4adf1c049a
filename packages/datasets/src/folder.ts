/**
 * Generic folders: one folder of normal images, any number of defect folders, each with an optional
 * mask folder. Without masks only image-level metrics are possible; the dataset's capabilities and
 * description say so.
 */
import { join, resolve } from 'node:path';
import { createRng, hashString } from '@unias/graph';
import { buildDataset } from './build-dataset.js';
import { DatasetError } from './errors.js';
import { isDirectory, listFolder } from './files.js';
import { IssueCollector } from './issues.js';
import { pairMasks } from './match-masks.js';
import type { CommonLoadOptions, Dataset, Sample } from './types.js';

export interface DefectFolder {
  /** Folder of defective images. */
  readonly images: string;
  /** Folder of their masks (`NAME_mask.*` or `NAME.*`); omit when there are none. */
  readonly masks?: string;
}

export interface FolderOptions extends Omit<CommonLoadOptions, 'classes'> {
  readonly className: string;
  /** Base for relative folder paths (default: the working directory). */
  readonly root?: string;
  /** Normal images; used for training (less the `normalTestFraction` held out). */
  readonly normal: string;
  /** Normal images kept for testing, if you have a separate folder. */
  readonly normalTest?: string;
  /** Share of `normal` held out for testing, chosen with a seeded shuffle (default 0). */
  readonly normalTestFraction?: number;
  readonly seed?: number;
  /** Defect type -> folder (a string is an images folder without masks). */
  readonly defects?: Readonly<Record<string, string | DefectFolder>>;
}

export async function loadFolder(options: FolderOptions): Promise<Dataset> {
  const base = resolve(options.root ?? '.');
  const at = (p: string): string => resolve(base, p);
  const issues = new IssueCollector(options.onBadInput ?? 'error');
  const { className } = options;
  const normalDir = at(options.normal);
  if (!(await isDirectory(normalDir)))
    throw new DatasetError([{ file: normalDir, problem: 'normal-image folder does not exist', action: 'skipped-class' }], 'loadFolder');
  const normal = await listFolder(normalDir);
  if (normal.others.length > 0) issues.note(`${normalDir}: ignored ${normal.others.length} non-image file(s)`);
  const samples: Sample[] = [];
  const fraction = options.normalTestFraction ?? 0;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`loadFolder: normalTestFraction must be in [0, 1), got ${fraction}`);
  const order = normal.images.map((_, i) => i);
  createRng(hashString(`folder-split:${className}`, options.seed ?? 0)).shuffle(order);
  const held = new Set(order.slice(0, Math.round(fraction * normal.images.length)));
  normal.images.forEach((f, i) => {
    samples.push({ path: join(normalDir, f), className, split: held.has(i) ? 'test' : 'train', label: 0, defectType: 'good', maskPath: null });
  });
  if (options.normalTest !== undefined) {
    const dir = at(options.normalTest);
    if (!(await isDirectory(dir))) issues.skipSample(dir, 'normal test folder does not exist');
    else
      for (const f of (await listFolder(dir)).images)
        samples.push({ path: join(dir, f), className, split: 'test', label: 0, defectType: 'good', maskPath: null });
  }
  for (const [type, spec] of Object.entries(options.defects ?? {})) {
    const folder: DefectFolder = typeof spec === 'string' ? { images: spec } : spec;
    const dir = at(folder.images);
    if (!(await isDirectory(dir))) {
      issues.skipSample(dir, `folder for defect type ${type} does not exist`);
      continue;
    }
    const listing = await listFolder(dir);
    if (listing.images.length === 0) issues.note(`${dir}: defect folder ${type} holds no images`);
    if (folder.masks === undefined) {
      for (const f of listing.images) samples.push({ path: join(dir, f), className, split: 'test', label: 1, defectType: type, maskPath: null });
      continue;
    }
    const maskDir = at(folder.masks);
    if (!(await isDirectory(maskDir))) {
      for (const f of listing.images) issues.skipSample(join(dir, f), `defective image has no mask: mask folder ${maskDir} does not exist`);
      continue;
    }
    // Masks were promised for this type: an image without one is an error, not an unmasked sample.
    const paired = pairMasks(dir, listing.images, maskDir, (await listFolder(maskDir)).images, issues);
    for (const f of paired.missing) issues.skipSample(join(dir, f), `defective image has no mask in ${maskDir}`);
    for (const [f, m] of paired.masks) samples.push({ path: join(dir, f), className, split: 'test', label: 1, defectType: type, maskPath: m });
  }
  return buildDataset({
    format: 'folder',
    roots: [normalDir],
    samples,
    check: options.check ?? 'header',
    issues,
    context: `loadFolder(${className})`,
    classDirs: new Map([[className, normalDir]]),
  });
}
