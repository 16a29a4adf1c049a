/**
 * `pnpm bench:accuracy`: the accuracy study's final configuration, end to end and bounded. One
 * unified UniAS model is trained with `unias train`'s defaults (the `cpu` preset, a time budget)
 * on every class of the data roots at once; a nearest-neighbour detector (one bank per class) on
 * the same backbone, input size and images is evaluated beside it. JSON to stdout and
 * bench-results/accuracy.json:
 *   { classes: { <class>: { unias: {...}, knn: {...}, knn_shared: {...} } }, mean: { unias, knn, knn_shared },
 *     train_seconds, ... }  (knn: one bank per class; knn_shared: one bank for all classes, the unified setting)
 *
 * Data: --data DIR (repeatable; MVTec layout, a class folder works too) or UNIAS_ACCURACY_DATA
 * (colon-separated); default: ../shared/datasets/{ksdd,hazelnut-toy,mvtec-grid-mini} and the
 * synthetic classes (generated). --budget 30m sets the training budget; --out DIR the run folder.
 */
import { cpus, loadavg } from 'node:os';
import { readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSyntheticDataset } from '@unias/datasets';
import { writeFileAtomic } from '@unias/graph';
import type { MetricValues } from '@unias/metrics';
import { resolveConfig, type ModelConfig } from '@unias/model';
import {
  combineCallbacks,
  evaluate,
  resolveTrainSettings,
  type RawConfig,
  knnBaseline,
  fitKnn,
  knnModelConfig,
  loadData,
  parseDuration,
  runTraining,
} from '@unias/engine';
import { progressBars } from '../src/progress.js';
import { LOG_FILE, runLog } from '../src/run-log.js';
import { createGraphPredictor, loadStoredModel, openBackend } from '@unias/detector';
import { hugePageStatus } from '@unias/backend-onnx';
import { restartWithHugePages } from '../src/huge-pages-respawn.js';

// trained as `unias train` trains: in a process with huge pages where an environment variable is all it takes
const restarted = await restartWithHugePages();
if (restarted !== undefined) process.exit(restarted);

const repo = resolve(import.meta.dirname, '../../..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', multiple: true },
    budget: { type: 'string', default: '30m' },
    out: { type: 'string', default: join(repo, 'runs', 'bench-accuracy') },
    'no-synthetic': { type: 'boolean', default: false },
    // evaluate the model already trained in OUT/unias again (e.g. after changing eval-time settings)
    'eval-only': { type: 'boolean', default: false },
  },
});
const log = (m: string) => process.stderr.write(`${m}\n`);
// bars on a terminal only: a redirected log stays one line per result
const bars = process.stderr.isTTY ? progressBars() : null;
const budget = parseDuration(values.budget!);
if (budget === null) throw new Error(`--budget: not a duration: ${values.budget}`);
const work = resolve(values.out!);

async function defaultRoots(): Promise<string[]> {
  const shared = resolve(repo, '..', 'shared', 'datasets');
  const roots: string[] = [];
  for (const name of ['ksdd', 'hazelnut-toy', 'mvtec-grid-mini'])
    if ((await stat(join(shared, name)).catch(() => null))?.isDirectory()) roots.push(join(shared, name));
  if (!values['no-synthetic']) {
    const synthetic = join(work, 'synthetic');
    await generateSyntheticDataset({ root: synthetic, size: 128, seed: 0, ifExists: 'reuse' });
    roots.push(synthetic);
  }
  return roots;
}

const env = process.env['UNIAS_ACCURACY_DATA'];
const roots = values.data?.length
  ? values.data.map((d) => resolve(d))
  : env
    ? env
        .split(':')
        .filter(Boolean)
        .map((d) => resolve(d))
    : await defaultRoots();
if (roots.length === 0) throw new Error('no data: give --data DIR or UNIAS_ACCURACY_DATA');
log(`accuracy bench: ${roots.join(', ')}; budget ${values.budget}`);

const runDir = join(work, 'unias');
const settings = resolveTrainSettings({ data: { roots }, train: { timeBudget: budget }, output: { dir: runDir, evalEvery: 0 } } as RawConfig);
const loadStart = loadavg()[0]!;
let trainSeconds: number;
let imagesPerSecond: number;
let steps: number;
if (values['eval-only']) {
  const end = (await readFile(join(runDir, LOG_FILE), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; seconds?: number; step?: number; images_per_s?: number })
    .find((l) => l.type === 'end');
  if (!end) throw new Error(`--eval-only: ${runDir} holds no finished run`);
  trainSeconds = end.seconds!;
  imagesPerSecond = end.images_per_s!;
  steps = end.step!;
} else {
  await rm(runDir, { recursive: true, force: true });
  const t0 = performance.now();
  // the log's 'end' record is what --eval-only reads back
  const trained = await runTraining({
    settings,
    callbacks: combineCallbacks(runLog(), { onLog: log, ...(bars ? { onProgress: bars.onProgress } : {}) }),
    skipFinalEval: true,
  });
  bars?.close();
  trainSeconds = (performance.now() - t0) / 1000;
  imagesPerSecond = trained.imagesPerSecond;
  steps = trained.totalSteps;
}

const { dataset } = await loadData(settings.data);
const train = dataset.samples.filter((s) => s.split === 'train' && s.label === 0);
const test = dataset.samples.filter((s) => s.split === 'test');
const stored = await loadStoredModel(runDir);
const backend = await openBackend('onnx', { threads: null });
/** The trained model evaluated with eval-time settings changed (no retraining). */
async function evalWith(change: Partial<ModelConfig>, label: string) {
  const predictor = await createGraphPredictor({ backend, config: resolveConfig({ ...stored.modelConfig, ...change }), params: stored.params });
  try {
    return (await evaluate({ predictor, samples: test, curvePoints: 0 })).report;
  } finally {
    await predictor.dispose();
    log(`evaluated: ${label}`);
  }
}
const L = resolveConfig(stored.modelConfig).taps.length;
const u = await evalWith({}, 'the trained model');
const variants = {
  'official map (all levels, per-level Gaussian)': await evalWith({ mapLevels: [...Array(L).keys()], postGaussian: true }, 'official map'),
  'levels 0-1 (coarsest two), no per-level Gaussian': await evalWith({ mapLevels: [0, 1], postGaussian: false }, 'levels 0-1'),
};
const t1 = performance.now();
const knn = await knnBaseline({
  backend,
  model: stored.modelConfig,
  backboneParams: stored.params,
  train,
  test,
  knn: settings.knn,
  cacheDir: join(work, 'baseline-cache'),
  ...(bars ? { onProgress: bars.onProgress } : {}),
});
bars?.close();
const knnSeconds = (performance.now() - t1) / 1000;

// The unified form of the same detector: ONE bank for every class, no class label at inference,
// as the unified UniAS model works. The per-class banks above are the stronger baseline.
const t2 = performance.now();
const shared = await (async () => {
  const { method: _m, knn: _k, ...base } = stored.modelConfig;
  const fitted = await fitKnn({ backend, model: knnModelConfig(base, settings.knn), backboneParams: stored.params, samples: train, knn: settings.knn });
  const predictor = await createGraphPredictor({ backend, config: fitted.config, params: fitted.params });
  try {
    return (await evaluate({ predictor, samples: test, curvePoints: 0 })).report;
  } finally {
    await predictor.dispose();
    log('evaluated: knn, one shared bank');
  }
})();
const sharedSeconds = (performance.now() - t2) / 1000;

const KEYS = ['pixel_auroc', 'pixel_ap', 'pixel_f1_max', 'dsc', 'aupro', 'image_auroc', 'image_ap'] as const;
const pick = (m: MetricValues | undefined) => Object.fromEntries(KEYS.map((k) => [k, m?.[k] ?? null]));
const classes = Object.fromEntries(
  Object.keys(u.classes)
    .sort()
    .map((c) => [c, { unias: pick(u.classes[c]), knn: pick(knn.report.classes[c]), knn_shared: pick(shared.classes[c]) }]),
);
const result = {
  bench: 'accuracy',
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  load_avg_1min_at_start: Number(loadStart.toFixed(2)),
  data: roots,
  unias: {
    preset: settings.preset,
    model: settings.model,
    train: { ...settings.train, steps },
    budget_seconds: budget,
    images_per_s: Number(imagesPerSecond.toFixed(2)),
  },
  unias_map_variants: Object.fromEntries(
    Object.entries(variants).map(([k, r]) => [
      k,
      {
        mean: pick(r.mean),
        classes: Object.fromEntries(
          Object.keys(r.classes)
            .sort()
            .map((c) => [c, pick(r.classes[c])]),
        ),
      },
    ]),
  ),
  knn: { description: knn.description, settings: settings.knn, seconds: Number(knnSeconds.toFixed(1)) },
  classes,
  knn_shared: {
    description: `the same detector with one bank of ${settings.knn.bankSize} patches for all classes (${settings.knn.subsampling})`,
    seconds: Number(sharedSeconds.toFixed(1)),
  },
  mean: { unias: pick(u.mean), knn: pick(knn.report.mean), knn_shared: pick(shared.mean) },
  train_seconds: Number(trainSeconds.toFixed(1)),
  huge_pages: hugePageStatus(),
  knn_seconds: Number(knnSeconds.toFixed(1)),
};
const json = `${JSON.stringify(result, null, 2)}\n`;
await writeFileAtomic(join(repo, 'bench-results', 'accuracy.json'), json);
process.stdout.write(json);
