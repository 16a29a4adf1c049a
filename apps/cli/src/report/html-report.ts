/**
 * The evaluation report: one self-contained HTML file (inline CSS, a few lines of JS to sort the
 * table, SVG curves, base64 PNG images) with the per-class metrics table, the PR and ROC curves
 * (and PRO) of every class, and the best, median and worst images of each class.
 */
import type { ClassCurves, MetricsReport } from '@unias/metrics';
import { COMPARISON_COLUMNS, TABLE_COLUMNS, cell } from './table.js';
import { curveSvg, escapeXml } from './svg-curve.js';
import type { ReportExample } from './examples.js';

export interface ReportInput {
  readonly title: string;
  readonly model: string;
  readonly dataset: string;
  readonly report: MetricsReport;
  readonly examples: Readonly<Record<string, readonly ReportExample[]>>;
  /** How the drawn masks were thresholded, in words. */
  readonly thresholdRule: string;
  /** Extra lines for the summary (e.g. untrained vs trained). */
  readonly notes?: readonly string[];
  readonly generated?: Date;
  /** The nearest-neighbour baseline on the same backbone and data, shown beside the model. */
  readonly baseline?: { readonly description: string; readonly report: Pick<MetricsReport, 'classes' | 'mean'> };
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 8px;text-align:right;border-bottom:1px solid #eee}
th{cursor:pointer;background:#f5f5f5}td:first-child,th:first-child{text-align:left}tr.mean td{font-weight:600;border-top:2px solid #999}
.curves,.examples{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:420px}
svg.curve text{font-size:10px;fill:#333}svg.curve .t{font-size:12px;font-weight:600}svg.curve .frame{fill:none;stroke:#bbb}
svg.curve .diag{stroke:#ccc;stroke-dasharray:3 3}svg.curve .line{fill:none;stroke:#c0392b;stroke-width:1.6}
.ex img{width:140px;height:140px;image-rendering:pixelated;border:1px solid #ccc;margin-right:2px}
.meta{color:#555}code{background:#f3f3f3;padding:0 3px}`;

const JS = `
document.querySelectorAll('table.sortable th').forEach((th,i)=>th.addEventListener('click',()=>{
 const body=th.closest('table').tBodies[0];const rows=[...body.querySelectorAll('tr[data-class]')];const mean=body.querySelector('tr.mean');
 const dir=th.dataset.dir==='desc'?1:-1;th.dataset.dir=dir===1?'asc':'desc';
 rows.sort((a,b)=>{const x=a.cells[i].dataset.v??a.cells[i].textContent,y=b.cells[i].dataset.v??b.cells[i].textContent;
  return (isNaN(+x)||isNaN(+y)?String(x).localeCompare(String(y)):(+x)-(+y))*dir;});
 rows.forEach(r=>body.insertBefore(r,mean));}));`;

function png(b: Buffer, alt: string): string {
  return `<img alt="${escapeXml(alt)}" src="data:image/png;base64,${b.toString('base64')}">`;
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(4);
}

function curvesOf(c: ClassCurves, m: MetricsReport['classes'][string], fprLimit: number): string {
  const parts = [
    curveSvg(c.pixel_roc, { id: 'pixel_roc', title: 'pixel ROC', xLabel: 'FPR', yLabel: 'TPR', note: `AUROC ${fmt(m.pixel_auroc)}`, diagonal: true }),
    curveSvg(c.pixel_pr, { id: 'pixel_pr', title: 'pixel PR', xLabel: 'recall', yLabel: 'precision', note: `AP ${fmt(m.pixel_ap)}` }),
    c.pixel_pro
      ? curveSvg(c.pixel_pro, { id: 'pixel_pro', title: 'PRO', xLabel: 'FPR', yLabel: 'PRO', note: `AU-PRO@${fprLimit} ${fmt(m.aupro)}`, xMax: fprLimit })
      : '',
    curveSvg(c.image_roc, { id: 'image_roc', title: 'image ROC', xLabel: 'FPR', yLabel: 'TPR', note: `AUROC ${fmt(m.image_auroc)}`, diagonal: true }),
    curveSvg(c.image_pr, { id: 'image_pr', title: 'image PR', xLabel: 'recall', yLabel: 'precision', note: `AP ${fmt(m.image_ap)}` }),
  ];
  return parts
    .filter(Boolean)
    .map((s) => `<figure>${s}</figure>`)
    .join('');
}

export function renderReport(r: ReportInput): string {
  const rep = r.report;
  const classes = Object.keys(rep.classes).sort();
  const head = `<tr><th>class</th>${TABLE_COLUMNS.map(([k, h]) => `<th title="${k}">${h}</th>`).join('')}<th>threshold (DSC)</th><th>images</th></tr>`;
  const row = (c: string) =>
    `<tr data-class="${escapeXml(c)}"><td>${escapeXml(c)}</td>${TABLE_COLUMNS.map(([k]) => `<td data-v="${rep.classes[c]![k] ?? ''}">${cell(rep.classes[c]![k])}</td>`).join('')}` +
    `<td>${fmt(rep.thresholds[c]?.dsc_iou)}</td><td>${rep.counts[c]?.images ?? ''}</td></tr>`;
  const meanRow = `<tr class="mean"><td>mean</td>${TABLE_COLUMNS.map(([k]) => `<td>${cell(rep.mean[k])}</td>`).join('')}<td></td><td>${classes.reduce((a, c) => a + (rep.counts[c]?.images ?? 0), 0)}</td></tr>`;
  const sections = classes.map((c) => {
    const curves = rep.curves?.[c];
    const ex = (r.examples[c] ?? [])
      .map(
        (e) =>
          `<figure class="ex" data-rank="${e.rank}">${png(e.image, `${c} ${e.rank} image`)}${png(e.overlay, `${c} ${e.rank} heat map`)}${png(e.prediction, `${c} ${e.rank} prediction`)}` +
          `<figcaption><b>${e.rank}</b> ${escapeXml(e.defectType)}: pixel AP ${fmt(e.pixelAp)}, score ${fmt(e.score)}, threshold ${fmt(e.threshold)}<br><code>${escapeXml(e.path)}</code></figcaption></figure>`,
      )
      .join('');
    return (
      `<section class="class" id="class-${escapeXml(c)}"><h2>${escapeXml(c)}</h2>` +
      `<div class="curves">${curves ? curvesOf(curves, rep.classes[c]!, rep.options.pro_fpr_limit) : '<p>no curves</p>'}</div>` +
      `<div class="examples">${ex || '<p>no defective images</p>'}</div></section>`
    );
  });
  const notes = (r.notes ?? []).map((n) => `<li>${escapeXml(n)}</li>`).join('');
  const comparison = r.baseline ? comparisonSection(rep, r.baseline) : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(r.title)}</title><style>${CSS}</style></head><body>
<h1>${escapeXml(r.title)}</h1>
<ul class="meta"><li>model: ${escapeXml(r.model)}</li><li>data: ${escapeXml(r.dataset)}</li><li>masks drawn at: ${escapeXml(r.thresholdRule)}</li>${notes}<li>generated ${escapeXml((r.generated ?? new Date()).toISOString())}</li></ul>
<p class="meta">Percentages. pAUROC/pAP/pF1max over all pixels of a class; DSC and IoU at the UniAS threshold (argmax of precision + recall), per image then averaged;
AU-PRO up to FPR ${rep.options.pro_fpr_limit}; image metrics with the image score = ${escapeXml(rep.options.image_score)} of the map. Images: the input, the heat map, and the prediction (red) with the true defect's outline (green).</p>
<table class="sortable" id="metrics"><thead>${head}</thead><tbody>${classes.map(row).join('')}${meanRow}</tbody></table>
${comparison}
${rep.warnings.length > 0 ? `<details><summary>${rep.warnings.length} warning(s)</summary><ul>${rep.warnings.map((w) => `<li>${escapeXml(w)}</li>`).join('')}</ul></details>` : ''}
${sections.join('\n')}
<script>${JS}</script>
</body></html>
`;
}

/** The model beside the nearest-neighbour baseline, per class and the mean (percentages, difference). */
function comparisonSection(rep: ReportInput['report'], b: NonNullable<ReportInput['baseline']>): string {
  const classes = Object.keys(rep.classes).sort();
  const head = `<tr><th>class</th><th>method</th>${COMPARISON_COLUMNS.map(([k, h]) => `<th title="${k}">${h}</th>`).join('')}</tr>`;
  const rows = (label: string, a: ReportInput['report']['mean'] | undefined, k: ReportInput['report']['mean'] | undefined, cls: string) => {
    const d = (x: number | null | undefined, y: number | null | undefined) =>
      x === null || x === undefined || y === null || y === undefined ? 'n/a' : `${x >= y ? '+' : ''}${(100 * (x - y)).toFixed(1)}`;
    return (
      `<tr class="${cls}"><td rowspan="3">${escapeXml(label)}</td><td>model</td>${COMPARISON_COLUMNS.map(([c]) => `<td>${cell(a?.[c])}</td>`).join('')}</tr>` +
      `<tr class="${cls}"><td>knn</td>${COMPARISON_COLUMNS.map(([c]) => `<td>${cell(k?.[c])}</td>`).join('')}</tr>` +
      `<tr class="${cls} diff"><td>diff</td>${COMPARISON_COLUMNS.map(([c]) => `<td>${d(a?.[c], k?.[c])}</td>`).join('')}</tr>`
    );
  };
  const body = classes.map((c) => rows(c, rep.classes[c], b.report.classes[c], 'cls')).join('') + rows('mean', rep.mean, b.report.mean, 'mean');
  return `<h2 id="baseline">Against the nearest-neighbour baseline</h2><p class="meta">${escapeXml(b.description)}</p><table id="comparison"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}
