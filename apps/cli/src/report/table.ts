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
  const lines = [row('class', TABLE_COLUMNS.map(([, h]) => h)), row('-'.repeat(nameW), widths.map((w) => '-'.repeat(w)))];
  for (const c of classes) lines.push(row(c, TABLE_COLUMNS.map(([k]) => cell(r.classes[c]![k]))));
  lines.push(row('mean', TABLE_COLUMNS.map(([k]) => cell(r.mean[k]))));
  return lines.join('\n');
}
