/** The per-class metrics table for the terminal (and the same columns in the HTML report). */
import type { MetricsReport } from '@unias/metrics';

export const TABLE_COLUMNS = [
  ['pixel_auroc', 'pAUROC'],
  ['pixel_ap', 'pAP'],
  ['pixel_f1_max', 'pF1max'],
  ['dsc', 'DSC'],
  ['iou', 'IoU'],
  ['aupro', 'AU-PRO'],
  ['image_auroc', 'iAUROC'],
  ['image_ap', 'iAP'],
  ['image_f1_max', 'iF1max'],
] as const;

export function cell(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : (100 * v).toFixed(1);
}

/** Percentages with one decimal, a row per class and the mean. */
export function metricsTable(r: Pick<MetricsReport, 'classes' | 'mean'>): string {
  const classes = Object.keys(r.classes).sort();
  const nameW = Math.max(5, ...classes.map((c) => c.length));
  const widths = TABLE_COLUMNS.map(([, h]) => Math.max(6, h.length));
  const row = (name: string, vals: string[]) => `${name.padEnd(nameW)}  ${vals.map((v, i) => v.padStart(widths[i]!)).join(' ')}`;
  const lines = [
    row(
      'class',
      TABLE_COLUMNS.map(([, h]) => h),
    ),
    row(
      '-'.repeat(nameW),
      widths.map((w) => '-'.repeat(w)),
    ),
  ];
  for (const c of classes)
    lines.push(
      row(
        c,
        TABLE_COLUMNS.map(([k]) => cell(r.classes[c]![k])),
      ),
    );
  lines.push(
    row(
      'mean',
      TABLE_COLUMNS.map(([k]) => cell(r.mean[k])),
    ),
  );
  return lines.join('\n');
}

/** The columns of the model-versus-baseline comparison. */
export const COMPARISON_COLUMNS = [
  ['pixel_auroc', 'pAUROC'],
  ['pixel_ap', 'pAP'],
  ['dsc', 'DSC'],
  ['aupro', 'AU-PRO'],
  ['image_auroc', 'iAUROC'],
] as const;

export type MetricsRows = Pick<MetricsReport, 'classes' | 'mean'>;

/** Per class (and the mean): the model's row, the baseline's row, and the difference. */
export function comparisonTable(model: MetricsRows, baseline: MetricsRows, names: readonly [string, string] = ['model', 'knn']): string {
  const classes = Object.keys(model.classes).sort();
  const nameW = Math.max(5, ...classes.map((c) => c.length));
  const mW = Math.max(6, names[0].length, names[1].length, 5);
  const widths = COMPARISON_COLUMNS.map(([, h]) => Math.max(6, h.length));
  const row = (name: string, method: string, vals: string[]) =>
    `${name.padEnd(nameW)}  ${method.padEnd(mW)} ${vals.map((v, i) => v.padStart(widths[i]!)).join(' ')}`;
  const lines = [
    row(
      'class',
      'method',
      COMPARISON_COLUMNS.map(([, h]) => h),
    ),
    row(
      '-'.repeat(nameW),
      '-'.repeat(mW),
      widths.map((w) => '-'.repeat(w)),
    ),
  ];
  const delta = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined ? 'n/a' : `${a >= b ? '+' : ''}${(100 * (a - b)).toFixed(1)}`;
  const block = (label: string, a: MetricsRows['mean'] | undefined, b: MetricsRows['mean'] | undefined) => {
    lines.push(
      row(
        label,
        names[0],
        COMPARISON_COLUMNS.map(([k]) => cell(a?.[k])),
      ),
    );
    lines.push(
      row(
        '',
        names[1],
        COMPARISON_COLUMNS.map(([k]) => cell(b?.[k])),
      ),
    );
    lines.push(
      row(
        '',
        'diff',
        COMPARISON_COLUMNS.map(([k]) => delta(a?.[k], b?.[k])),
      ),
    );
  };
  for (const c of classes) block(c, model.classes[c], baseline.classes[c]);
  block('mean', model.mean, baseline.mean);
  return lines.join('\n');
}
