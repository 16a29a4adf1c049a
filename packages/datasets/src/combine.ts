/** Several classes from several roots in one dataset, for unified (one model, all classes) training. */
import { capabilitiesOf, describeDataset } from './build-dataset.js';
import { DatasetError } from './errors.js';
import { loadFolder, type FolderOptions } from './folder.js';
import { loadMvtec, type MvtecOptions } from './mvtec.js';
import type { Dataset, Sample } from './types.js';
import { loadVisa, type VisaOptions } from './visa.js';

export type DatasetSource =
  | ({ readonly format: 'mvtec' } & MvtecOptions & { readonly classPrefix?: string })
  | ({ readonly format: 'visa' } & VisaOptions & { readonly classPrefix?: string })
  | ({ readonly format: 'folder' } & FolderOptions & { readonly classPrefix?: string });

/** Merges loaded datasets; two sources with the same class name are an error (give one a `classPrefix`). */
export function combineDatasets(datasets: readonly Dataset[]): Dataset {
  if (datasets.length === 0) throw new Error('combineDatasets: no datasets given');
  if (datasets.length === 1) return datasets[0]!;
  const owner = new Map<string, string>();
  for (const d of datasets) {
    for (const c of d.classes) {
      const prev = owner.get(c);
      const here = d.roots.join(', ');
      if (prev !== undefined && prev !== here) {
        throw new DatasetError(
          [{ file: here, problem: `class ${c} is also loaded from ${prev}; give one source a classPrefix`, action: 'skipped-class' }],
          'combineDatasets',
        );
      }
      owner.set(c, here);
    }
  }
  const samples = datasets.flatMap((d) => d.samples);
  const classes = datasets.flatMap((d) => d.classes);
  const roots = [...new Set(datasets.flatMap((d) => d.roots))];
  const formats = new Set(datasets.map((d) => d.format));
  const format = formats.size === 1 ? datasets[0]!.format : 'mixed';
  const caps = capabilitiesOf(samples);
  return {
    format,
    roots,
    classes,
    samples,
    capabilities: caps,
    description: describeDataset(format, roots, classes, samples, caps),
    report: { issues: datasets.flatMap((d) => d.report.issues), notes: datasets.flatMap((d) => d.report.notes) },
  };
}

function prefixed(d: Dataset, prefix: string | undefined): Dataset {
  if (!prefix) return d;
  const samples: Sample[] = d.samples.map((s) => ({ ...s, className: prefix + s.className }));
  return { ...d, samples, classes: d.classes.map((c) => prefix + c) };
}

/** Loads every source (MVTec, VisA, folders) and combines them. */
export async function loadDatasets(sources: readonly DatasetSource[]): Promise<Dataset> {
  const loaded: Dataset[] = [];
  for (const src of sources) {
    let d: Dataset;
    if (src.format === 'mvtec') d = await loadMvtec(src);
    else if (src.format === 'visa') d = await loadVisa(src);
    else d = await loadFolder(src);
    loaded.push(prefixed(d, src.classPrefix));
  }
  return combineDatasets(loaded);
}
