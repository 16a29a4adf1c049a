/** Dataset roots -> one unified dataset (every class of every root), with the augmentation policy. */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MVTEC_AUGMENTATION, VISA_AUGMENTATION, isFolderEntry, loadDatasets, type AugmentationPolicy, type Dataset, type DatasetSource } from '@unias/datasets';
import { EngineInputError } from './errors.js';
import { suggestion } from './settings/suggest.js';
import type { AugmentationName, DataFormat } from './settings/train-settings.js';

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isDirectory() ?? false;
}

/** VisA when the root has `split_csv/`, else MVTec layout. */
export async function detectFormat(root: string): Promise<'mvtec' | 'visa'> {
  return (await isDir(join(root, 'split_csv'))) ? 'visa' : 'mvtec';
}

export interface LoadedData {
  readonly dataset: Dataset;
  readonly formats: ReadonlyMap<string, 'mvtec' | 'visa'>;
}

export async function loadData(o: { roots: readonly string[]; format: DataFormat; classes: readonly string[] | null }): Promise<LoadedData> {
  const sources: DatasetSource[] = [];
  const formats = new Map<string, 'mvtec' | 'visa'>();
  const found = new Set<string>();
  for (const r of o.roots) {
    const root = resolve(r);
    const st = await stat(root).catch(() => null);
    if (!st) throw new EngineInputError(`dataset ${r}: no such folder`);
    if (!st.isDirectory()) throw new EngineInputError(`dataset ${r}: not a folder`);
    const format = o.format === 'auto' ? await detectFormat(root) : o.format;
    formats.set(root, format);
    if (format === 'mvtec' && o.classes) {
      const dirs = await folderNames(root);
      const here = o.classes.filter((c) => dirs.includes(c));
      here.forEach((c) => found.add(c));
      if (here.length > 0) sources.push({ format, root, classes: here });
    } else {
      sources.push({ format, root, ...(o.classes ? { classes: o.classes } : {}) });
    }
  }
  if (o.classes && o.format !== 'visa') {
    const visaRoots = [...formats.values()].some((f) => f === 'visa');
    const missing = o.classes.filter((c) => !found.has(c));
    if (!visaRoots && missing.length > 0) {
      const known = await knownClasses(o.roots);
      throw new EngineInputError(`class "${missing[0]}" is in none of the dataset roots${suggestion(missing[0]!, known)}`);
    }
  }
  if (sources.length === 0) throw new EngineInputError('no classes to load');
  const dataset = await loadDatasets(sources);
  return { dataset, formats };
}

/** Sub-folder names, symbolic links to folders included. */
async function folderNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) if (await isFolderEntry(dir, d)) out.push(d.name);
  return out;
}

async function knownClasses(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    out.push(...(await folderNames(resolve(r)).catch(() => [])).filter((n) => !n.startsWith('.')));
  }
  return out;
}

export function augmentationPolicy(name: AugmentationName, formats: Iterable<'mvtec' | 'visa'>): AugmentationPolicy {
  if (name === 'none') return {};
  if (name === 'mvtec') return MVTEC_AUGMENTATION;
  if (name === 'visa') return VISA_AUGMENTATION;
  const fs = new Set(formats);
  return { ...(fs.has('mvtec') ? MVTEC_AUGMENTATION : {}), ...(fs.has('visa') ? VISA_AUGMENTATION : {}) };
}
