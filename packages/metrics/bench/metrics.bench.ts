/**
 * Time for every pixel metric (AUROC, AP, F1-max, DSC/IoU with the UniAS rule, AU-PRO; image metrics
 * come along) on 5.0M and 20.1M pixels (100 and 400 maps of 224 x 224), and, where python3 can import
 * scikit-learn, scikit-learn's roc_curve + auc, average_precision_score and precision_recall_curve on the
 * same pixels in the same run, with the ratio and the largest difference between the two results.
 *
 * JSON to stdout and to <repo>/bench-results/metrics.json. Environment:
 *   UNIAS_METRICS_BENCH_IMAGES  comma-separated image counts (default "100,400"; "2000" is 100M pixels)
 *   UNIAS_METRICS_BENCH_REPEATS repeats of our timing, median reported (default 3)
 *   UNIAS_METRICS_BENCH_SKLEARN "0" skips scikit-learn
 *   UNIAS_METRICS_BENCH_PYTHON  the python to try (default: python3, then /usr/bin/python3)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@unias/graph';
import { createClassMetricsAccumulator, type ClassReport } from '../src/index.js';
import { createSyntheticMaps, type SyntheticImage } from './synthetic-maps.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const imageCounts = (process.env['UNIAS_METRICS_BENCH_IMAGES'] ?? '100,400').split(',').map((s) => Number(s.trim()));
const repeats = Number(process.env['UNIAS_METRICS_BENCH_REPEATS'] ?? 3);
const wantSklearn = process.env['UNIAS_METRICS_BENCH_SKLEARN'] !== '0';

const SKLEARN_SCRIPT = `
import json, sys, time
import numpy as np
import sklearn
from sklearn import metrics
scores = np.fromfile(sys.argv[1], dtype=np.float32)
labels = np.fromfile(sys.argv[2], dtype=np.uint8)
c0 = time.process_time()
t0 = time.perf_counter()
fpr, tpr, _ = metrics.roc_curve(labels, scores)
auroc = metrics.auc(fpr, tpr)
t1 = time.perf_counter()
ap = metrics.average_precision_score(labels, scores)
t2 = time.perf_counter()
p, r, th = metrics.precision_recall_curve(labels, scores)
t3 = time.perf_counter()
c3 = time.process_time()
with np.errstate(divide='ignore', invalid='ignore'):
    f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0)
best = th[np.argmax(p + r)]
print(json.dumps({"version": sklearn.__version__, "numpy": np.__version__, "pixels": int(scores.size),
  "seconds": {"roc_auc": t1 - t0, "average_precision": t2 - t1, "precision_recall_curve": t3 - t2, "total": t3 - t0, "cpu_total": c3 - c0},
  "values": {"pixel_auroc": float(auroc), "pixel_ap": float(ap), "pixel_f1_max": float(f1.max()), "dsc_threshold": float(best)}}))
`;

/** The first python3 that imports scikit-learn (the pyenv shim may lack it; Debian's may have it). */
function findSklearnPython(): { python: string; version: string } | { reason: string } {
  const tried: string[] = [];
  const candidates = process.env['UNIAS_METRICS_BENCH_PYTHON'] ? [process.env['UNIAS_METRICS_BENCH_PYTHON']] : ['python3', '/usr/bin/python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import sklearn, numpy; print(sklearn.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
    tried.push(`${python}: ${r.error?.message ?? (r.stderr.trim().split('\n').at(-1) || `exit ${r.status}`)}`);
  }
  return { reason: `scikit-learn unavailable (${tried.join('; ')})` };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Run {
  addS: number;
  computeS: number;
  /** User + system CPU seconds of the whole evaluation (less sensitive to other load on a shared machine). */
  cpuS: number;
  report: ClassReport;
}

function evaluate(images: readonly SyntheticImage[]): Run {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const acc = createClassMetricsAccumulator();
  for (const im of images) acc.add(im);
  const t1 = performance.now();
  const report = acc.compute();
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  return { addS: (t1 - t0) / 1000, computeS: (t2 - t1) / 1000, cpuS: (c.user + c.system) / 1e6, report };
}

// Warm the JIT on a small set so the timed runs measure compiled code (numpy's is compiled too).
{
  const warm = createSyntheticMaps(1);
  evaluate(Array.from({ length: 8 }, () => warm()));
}

const python = wantSklearn ? findSklearnPython() : { reason: 'skipped (UNIAS_METRICS_BENCH_SKLEARN=0)' };
const results: unknown[] = [];
for (const count of imageCounts) {
  process.stderr.write(`metrics bench: ${count} maps of 224x224 ...\n`);
  const next = createSyntheticMaps(20261128);
  const images = Array.from({ length: count }, () => next());
  const pixels = count * 224 * 224;

  const runs = Array.from({ length: Math.max(1, repeats) }, () => evaluate(images));
  const totals = runs.map((r) => r.addS + r.computeS);
  const report = runs[0]!.report;
  const ours = {
    seconds_total: median(totals),
    seconds_add: median(runs.map((r) => r.addS)),
    seconds_compute: median(runs.map((r) => r.computeS)),
    cpu_seconds_total: median(runs.map((r) => r.cpuS)),
    runs_total: totals,
    memory_mb: {
      // The bench holds every map in memory (input_maps); the accumulator stores keys on top of that.
      input_maps: (pixels * 5) / 2 ** 20,
      max_rss_so_far: process.resourceUsage().maxRSS / 1024,
      array_buffers_after: process.memoryUsage().arrayBuffers / 2 ** 20,
    },
  };

  let sklearn: Record<string, unknown>;
  if ('python' in python) {
    const dir = mkdtempSync(join(tmpdir(), 'unias-metrics-bench-'));
    try {
      const scorePath = join(dir, 'scores.f32');
      const labelPath = join(dir, 'labels.u8');
      const fs = openSync(scorePath, 'w');
      const fl = openSync(labelPath, 'w');
      for (const im of images) {
        writeSync(fs, new Uint8Array(im.scores.buffer, im.scores.byteOffset, im.scores.byteLength));
        writeSync(fl, im.mask);
      }
      closeSync(fs);
      closeSync(fl);
      process.stderr.write(`metrics bench: scikit-learn ${python.version} on the same ${pixels} pixels ...\n`);
      const run = spawnSync(python.python, ['-c', SKLEARN_SCRIPT, scorePath, labelPath], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (run.status !== 0) throw new Error(`scikit-learn run failed: ${run.stderr}`);
      const out = JSON.parse(run.stdout) as { seconds: { total: number; cpu_total: number }; values: Record<string, number> };
      const m = report.metrics;
      const diff = {
        pixel_auroc: Math.abs(m.pixel_auroc! - out.values['pixel_auroc']!),
        pixel_ap: Math.abs(m.pixel_ap! - out.values['pixel_ap']!),
        pixel_f1_max: Math.abs(m.pixel_f1_max! - out.values['pixel_f1_max']!),
        dsc_threshold: Math.abs(report.thresholds.dsc_iou! - out.values['dsc_threshold']!),
      };
      sklearn = {
        available: true,
        python: python.python,
        ...out,
        measures: 'roc_curve + auc, average_precision_score, precision_recall_curve (time to load the data excluded)',
        ratio_sklearn_over_ours_total: out.seconds.total / ours.seconds_total,
        ratio_sklearn_over_ours_cpu: out.seconds.cpu_total / ours.cpu_seconds_total,
        max_abs_difference: diff,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    sklearn = { available: false, reason: python.reason };
  }
  results.push({
    images: count,
    height: 224,
    width: 224,
    pixels,
    anomalous_pixels: report.counts.anomalous_pixels,
    distinct_scores: report.counts.distinct_scores,
    ours: { ...ours, measures: 'createClassMetricsAccumulator: add every map + compute() (pixel AUROC, AP, F1-max, DSC/IoU, AU-PRO@0.3, image metrics)' },
    metrics: report.metrics,
    sklearn,
  });
}

const output = {
  bench: 'metrics',
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  note: 'Timings on a shared machine; ratios are measured side by side in this run.',
  results,
};
const json = JSON.stringify(output, null, 2);
process.stdout.write(`${json}\n`);
await writeFileAtomic(join(repoRoot, 'bench-results', 'metrics.json'), `${json}\n`);
