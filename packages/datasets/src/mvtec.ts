/**
 * MVTec-AD layout: `CLASS/train/good/*`, `CLASS/test/{good,DEFECT}/*`, `CLASS/ground_truth/DEFECT/NAME_mask.*`.
 * Any image extension (the hazelnut toy set has .jpg images with .png masks).
 */
import { basename, dirname, join, resolve } from 'node:path';
import { buildDataset } from './build-dataset.js';
import { DatasetError } from './errors.js';
import { isDirectory, listFolder } from './files.js';
import { IssueCollector } from './issues.js';
import { pairMasks } from './match-masks.js';
import type { CommonLoadOptions, Dataset, Sample } from './types.js';

export interface MvtecOptions extends CommonLoadOptions {
  /** Folder holding one sub-folder per class. */
  readonly root: string;
}

export async function loadMvtec(options: MvtecOptions): Promise<Dataset> {
  let root = resolve(options.root);
  if (!(await isDirectory(root))) throw new DatasetError([{ file: root, problem: 'MVTec root is not a folder', action: 'skipped-class' }], 'loadMvtec');
  const issues = new IssueCollector(options.onBadInput ?? 'error');
  // A class folder given as the root (KSDD ships as one class: ksdd/train/good, ksdd/test/...):
  // it is the only class, named after the folder.
  if (!options.classes && ((await isDirectory(join(root, 'train', 'good'))) || (await isDirectory(join(root, 'ground_truth'))))) {
    const className = basename(root);
    root = dirname(root);
    return buildDataset({
      format: 'mvtec',
      roots: [root],
      samples: await loadClass(join(root, className), className, issues),
      check: options.check ?? 'header',
      issues,
      context: `loadMvtec(${join(root, className)})`,
      classDirs: new Map([[className, join(root, className)]]),
    });
  }
  const top = await listFolder(root);
  let classes: string[];
  if (options.classes) {
    classes = [];
    for (const c of options.classes) {
      if (top.dirs.includes(c)) classes.push(c);
      else issues.skipClass(join(root, c), `class ${c} was requested but has no folder`);
    }
  } else {
    classes = [];
    for (const d of top.dirs) if ((await isDirectory(join(root, d, 'train'))) || (await isDirectory(join(root, d, 'test')))) classes.push(d);
    if (classes.length === 0)
      throw new DatasetError([{ file: root, problem: 'no class folder with train/ or test/ inside', action: 'skipped-class' }], 'loadMvtec');
  }
  const samples: Sample[] = [];
  const classDirs = new Map<string, string>();
  for (const className of classes) {
    const dir = join(root, className);
    classDirs.set(className, dir);
    samples.push(...(await loadClass(dir, className, issues)));
  }
  return buildDataset({ format: 'mvtec', roots: [root], samples, check: options.check ?? 'header', issues, context: `loadMvtec(${root})`, classDirs });
}

async function listIfDir(dir: string): Promise<Awaited<ReturnType<typeof listFolder>> | null> {
  return (await isDirectory(dir)) ? listFolder(dir) : null;
}

async function loadClass(dir: string, className: string, issues: IssueCollector): Promise<Sample[]> {
  const out: Sample[] = [];
  const noteOthers = (folder: string, listing: { others: readonly string[]; dirs: readonly string[] }): void => {
    const skipped = [...listing.others, ...listing.dirs.map((d) => `${d}/`)];
    if (skipped.length > 0)
      issues.note(`${folder}: ignored ${skipped.length} non-image entr${skipped.length === 1 ? 'y' : 'ies'}: ${skipped.slice(0, 5).join(', ')}`);
  };

  const trainDir = join(dir, 'train');
  const train = await listIfDir(trainDir);
  const good = await listIfDir(join(trainDir, 'good'));
  if (!good || good.images.length === 0) {
    issues.skipClass(join(trainDir, 'good'), `class ${className} has no training images (train/good is missing or empty)`);
    // The whole class is skipped, so its test images are not checked either.
    return [];
  }
  noteOthers(join(trainDir, 'good'), good);
  for (const f of good.images) out.push({ path: join(trainDir, 'good', f), className, split: 'train', label: 0, defectType: 'good', maskPath: null });
  for (const d of train?.dirs ?? []) {
    if (d !== 'good') issues.ignoreFile(join(trainDir, d), 'MVTec train/ holds only good/; this folder would be unlabelled and is not loaded');
  }

  const testDir = join(dir, 'test');
  const gtDir = join(dir, 'ground_truth');
  const test = await listIfDir(testDir);
  const gt = await listIfDir(gtDir);
  for (const type of test?.dirs ?? []) {
    const folder = join(testDir, type);
    const listing = await listFolder(folder);
    noteOthers(folder, listing);
    const maskFolder = join(gtDir, type);
    const masks = gt?.dirs.includes(type) ? await listFolder(maskFolder) : null;
    if (type === 'good') {
      // A mask for a good image would mean the label is wrong: refuse rather than guess.
      if (masks && masks.images.length > 0) {
        const paired = pairMasks(folder, listing.images, maskFolder, masks.images, issues);
        for (const [img, m] of paired.masks) issues.skipSample(join(folder, img), `a test/good image has a mask (${m}): its label is ambiguous`);
        for (const f of paired.missing) out.push({ path: join(folder, f), className, split: 'test', label: 0, defectType: 'good', maskPath: null });
      } else {
        for (const f of listing.images) out.push({ path: join(folder, f), className, split: 'test', label: 0, defectType: 'good', maskPath: null });
      }
      continue;
    }
    if (!masks) {
      for (const f of listing.images) issues.skipSample(join(folder, f), `defective image has no mask: ${maskFolder} does not exist`);
      continue;
    }
    const paired = pairMasks(folder, listing.images, maskFolder, masks.images, issues);
    for (const f of paired.missing)
      issues.skipSample(join(folder, f), `defective image has no mask in ${maskFolder} (expected ${f.replace(/\.[^.]+$/, '')}_mask.<ext>)`);
    for (const [f, m] of paired.masks) out.push({ path: join(folder, f), className, split: 'test', label: 1, defectType: type, maskPath: m });
  }
  for (const type of gt?.dirs ?? []) {
    if (!(test?.dirs ?? []).includes(type)) issues.ignoreFile(join(gtDir, type), `masks for defect type ${type} but no test/${type} folder`);
  }
  // Keep byte order of paths so every machine sees the same sample order.
  return out.sort((a, b) => splitRank(a) - splitRank(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function splitRank(s: Sample): number {
  return s.split === 'train' ? 0 : 1;
}
