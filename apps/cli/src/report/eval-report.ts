/** Evaluate, then write metrics.json and the HTML report: shared by `unias eval` and `unias demo`. */
import { join } from 'node:path';
import type { Sample } from '@unias/datasets';
import { writeFileAtomic } from '@unias/graph';
import { buildExamples } from './examples.js';
import { renderReport } from './html-report.js';
import { createProgress } from '../progress.js';
import { evaluate, withoutCurves, type Evaluation } from '@unias/engine';
import type { Predictor } from '@unias/detector';

export interface EvalReportOptions {
  readonly predictor: Predictor;
  readonly samples: readonly Sample[];
  readonly outDir: string;
  readonly datasetDescription: string;
  /** Pixel threshold for the drawn masks; default: the model's, else each class's DSC threshold. */
  readonly threshold?: number;
  readonly report?: boolean;
  readonly pooledThresholds?: boolean;
  readonly progress?: boolean;
  readonly batchSize?: number;
  readonly notes?: readonly string[];
  readonly title?: string;
  /** The nearest-neighbour baseline to show beside the model (and write to comparison.json). */
  readonly baseline?: { readonly description: string; readonly report: Pick<Evaluation['report'], 'classes' | 'mean'> };
  /** An evaluation already made (e.g. at the end of training): only the files are written. */
  readonly evaluation?: Evaluation;
}

export interface EvalReportResult {
  readonly evaluation: Evaluation;
  readonly metricsPath: string;
  readonly reportPath: string | null;
}

export async function evaluateAndReport(o: EvalReportOptions): Promise<EvalReportResult> {
  let evaluation = o.evaluation;
  if (!evaluation) {
    const bar = o.progress === false ? null : createProgress({ total: o.samples.length, label: 'eval' });
    evaluation = await evaluate({
      predictor: o.predictor,
      samples: o.samples,
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      ...(o.pooledThresholds ? { pooledThresholds: true } : {}),
      onProgress: (d) => bar?.update(d),
    });
    bar?.done();
  }
  const metricsPath = join(o.outDir, 'metrics.json');
  await writeFileAtomic(metricsPath, `${JSON.stringify(withoutCurves(evaluation.report), null, 2)}\n`);
  if (o.baseline) {
    const pick = (r: Pick<Evaluation['report'], 'classes' | 'mean'>) => ({ mean: r.mean, classes: r.classes });
    await writeFileAtomic(
      join(o.outDir, 'comparison.json'),
      `${JSON.stringify({ model: { description: o.predictor.description, ...pick(evaluation.report) }, knn: { description: o.baseline.description, ...pick(o.baseline.report) } }, null, 2)}\n`,
    );
  }
  let reportPath: string | null = null;
  if (o.report !== false) {
    const modelThreshold = o.predictor.thresholds.pixel;
    const fixed = o.threshold ?? modelThreshold ?? null;
    const rule =
      o.threshold !== undefined
        ? `pixel threshold ${o.threshold} (--threshold)`
        : modelThreshold !== null
          ? `the model's pixel threshold ${modelThreshold.toPrecision(5)} (${o.predictor.thresholds.source ?? 'stored with the model'})`
          : "each class's DSC threshold (argmax of precision + recall over its pixels)";
    const examples = await buildExamples({
      predictor: o.predictor,
      images: evaluation.images,
      samples: o.samples,
      thresholdOf: (c) => fixed ?? evaluation.report.thresholds[c]?.dsc_iou ?? null,
    });
    reportPath = join(o.outDir, 'report.html');
    await writeFileAtomic(
      reportPath,
      renderReport({
        title: o.title ?? 'UniAS evaluation report',
        model: o.predictor.description,
        dataset: o.datasetDescription,
        report: evaluation.report,
        examples,
        thresholdRule: rule,
        ...(o.notes ? { notes: o.notes } : {}),
        ...(o.baseline ? { baseline: o.baseline } : {}),
      }),
    );
  }
  return { evaluation, metricsPath, reportPath };
}
