/**
 * VisA layout: `split_csv/1cls.csv` (columns object, split, label, image, mask; paths relative to the
 * root), images under `CLASS/Data/Images/{Normal,Anomaly}`, masks under `CLASS/Data/Masks/Anomaly`.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { buildDataset } from './build-dataset.js';
import { parseCsv } from './csv.js';
import { DatasetError } from './errors.js';
import { isDirectory } from './files.js';
import { IssueCollector } from './issues.js';
import { mapLimit } from './limit.js';
import type { CommonLoadOptions, Dataset, Sample, Split } from './types.js';

export interface VisaOptions extends CommonLoadOptions {
  readonly root: string;
  /** Split file, relative to the root unless absolute. Default `split_csv/1cls.csv`. */
  readonly splitCsv?: string;
}

const COLUMNS = ['object', 'split', 'label', 'image', 'mask'] as const;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function loadVisa(options: VisaOptions): Promise<Dataset> {
  const root = resolve(options.root);
  if (!(await isDirectory(root))) throw new DatasetError([{ file: root, problem: 'VisA root is not a folder', action: 'skipped-class' }], 'loadVisa');
  const csvPath = isAbsolute(options.splitCsv ?? '') ? options.splitCsv! : join(root, options.splitCsv ?? 'split_csv/1cls.csv');
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (e) {
    throw new DatasetError(
      [{ file: csvPath, problem: `cannot read the VisA split file (${(e as NodeJS.ErrnoException).code ?? String(e)})`, action: 'skipped-class' }],
      'loadVisa',
    );
  }
  const rows = parseCsv(text);
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const col: Record<(typeof COLUMNS)[number], number> = { object: -1, split: -1, label: -1, image: -1, mask: -1 };
  for (const c of COLUMNS) {
    col[c] = header.indexOf(c);
    if (col[c] < 0)
      throw new DatasetError([{ file: csvPath, problem: `header lacks column "${c}" (found: ${header.join(', ')})`, action: 'skipped-class' }], 'loadVisa');
  }
  const issues = new IssueCollector(options.onBadInput ?? 'error');
  const wanted = options.classes ? new Set(options.classes) : null;
  const candidates: Array<{ sample: Sample; line: number }> = [];
  const seenClasses = new Set<string>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r]!;
    const where = `${csvPath}:${r + 1}`;
    const get = (c: (typeof COLUMNS)[number]): string => (row[col[c]] ?? '').trim();
    const className = get('object');
    if (!className) {
      issues.skipSample(where, 'row has no object (class) name');
      continue;
    }
    seenClasses.add(className);
    if (wanted && !wanted.has(className)) continue;
    const split = get('split');
    const labelText = get('label');
    if (split !== 'train' && split !== 'test') {
      issues.skipSample(where, `split must be train or test, got "${split}"`);
      continue;
    }
    if (labelText !== 'normal' && labelText !== 'anomaly') {
      issues.skipSample(where, `label must be normal or anomaly, got "${labelText}"`);
      continue;
    }
    const image = get('image');
    const mask = get('mask');
    if (!image) {
      issues.skipSample(where, 'row has no image path');
      continue;
    }
    const label = labelText === 'anomaly' ? 1 : 0;
    const path = join(root, image);
    if (label === 1 && !mask) {
      issues.skipSample(path, `defective image has no mask in ${where}`);
      continue;
    }
    if (label === 0 && mask) {
      issues.skipSample(path, `normal image has a mask (${mask}) in ${where}: its label is ambiguous`);
      continue;
    }
    candidates.push({
      line: r + 1,
      sample: { path, className, split: split as Split, label, defectType: label === 1 ? 'anomaly' : 'good', maskPath: mask ? join(root, mask) : null },
    });
  }
  for (const c of options.classes ?? []) {
    if (!seenClasses.has(c)) issues.skipClass(join(root, c), `class ${c} was requested but ${csvPath} has no rows for it`);
  }
  // A missing file is reported by name here, so that the `structure` check also catches it.
  const present = await mapLimit(candidates, 16, async ({ sample, line }) => {
    if (!(await isFile(sample.path))) {
      issues.skipSample(sample.path, `image listed in ${csvPath}:${line} does not exist`);
      return false;
    }
    if (sample.maskPath && !(await isFile(sample.maskPath))) {
      issues.skipSample(sample.maskPath, `mask listed in ${csvPath}:${line} does not exist`);
      return false;
    }
    return true;
  });
  const samples = candidates.filter((_, i) => present[i]).map((c) => c.sample);
  const classDirs = new Map([...seenClasses].map((c) => [c, join(root, c)] as const));
  return buildDataset({ format: 'visa', roots: [root], samples, check: options.check ?? 'header', issues, context: `loadVisa(${root})`, classDirs });
}
