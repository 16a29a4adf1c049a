import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateSyntheticDataset } from '@unias/datasets';
import { writeFileAtomic } from '@unias/graph';
import type { Command } from '../command.js';
import { flag, num, parse, str } from '../args.js';
import { UserError } from '../errors.js';
import { combineCallbacks, resolveTrainSettings, type RawConfig, fmt, train } from '@unias/engine';
import { evaluateAndReport } from '../report/eval-report.js';
import { openPredictor } from '@unias/detector';
import { metricsTable } from '../report/table.js';
import { createProgress, progressBars } from '../progress.js';
import { gracefulStop } from './train.js';
import { runLog } from '../run-log.js';

/** The file that says a run folder was made by `unias demo`, so that a later demo may delete it. */
export const DEMO_MARKER = 'made-by-unias-demo.json';

export async function markDemoRun(runDir: string): Promise<void> {
  await mkdir(runDir, { recursive: true });
  await writeFileAtomic(join(runDir, DEMO_MARKER), `${JSON.stringify({ madeBy: 'unias demo', created: new Date().toISOString() })}\n`);
}

/**
 * Deletes the run folder of an earlier demo, and only that: a folder without the demo's marker (a
 * real run, anything a person put there) is refused by name, never deleted. An empty folder, or
 * none, needs nothing.
 */
export async function clearDemoRun(runDir: string): Promise<void> {
  const st = await stat(runDir).catch(() => null);
  if (!st) return;
  if (!st.isDirectory()) throw new UserError(`${runDir} is a file, where the demo puts its run; choose another --out`);
  if (await stat(join(runDir, DEMO_MARKER)).catch(() => null)) {
    await rm(runDir, { recursive: true, force: true });
    return;
  }
  if ((await readdir(runDir)).length > 0) {
    throw new UserError(
      `${runDir} holds files the demo did not make (no ${DEMO_MARKER}); the demo deletes only its own runs: choose another --out, or move that folder`,
    );
  }
}

/**
 * The demo's settings, tuned to learn within about ten minutes on two cores (measured in the app
 * README): the CPU preset (MobileNetV2 with its bundled ImageNet weights, the paper's head
 * architecture with narrow widths) at 128x128 on the synthetic set's five classes, AdamW at 20x the
 * official lr (short run, batch 8) with the official clipping, StepLR x0.1 at 40% and 80% of the run,
 * the official raw-MSE loss. Pinned, not `unias train`'s defaults, so the demo stays the run the
 * README measured.
 */
export const DEMO = {
  full: {
    data: {
      size: 128,
      classes: undefined as readonly string[] | undefined,
      counts: undefined as { train: number; testGood: number; testDefect: number } | undefined,
    },
    config: {
      preset: 'cpu',
      model: { inputSize: 128, loss: { mse: 'raw' } },
      train: { epochs: 18, batchSize: 8, lr: 2e-3, schedule: 'step', warmupSteps: 0, seed: 0 },
      output: { logEvery: 5, evalEvery: 6, checkpointEvery: 100 },
    } as RawConfig,
  },
  /** Under a minute: two classes, small images, a narrower head, 100 steps. */
  quick: {
    data: { size: 64, classes: ['fabric', 'washer'] as readonly string[], counts: { train: 24, testGood: 4, testDefect: 2 } },
    config: {
      preset: 'cpu',
      model: { inputSize: 64, neighbourSize: 3, encoderLayers: 1, dimFeedforward: 32, loss: { mse: 'raw' } },
      train: { steps: 100, batchSize: 8, lr: 2e-3, schedule: 'step', warmupSteps: 0, seed: 0 },
      output: { logEvery: 5, evalEvery: 0, checkpointEvery: 50 },
    } as RawConfig,
  },
};

const USAGE = `usage: unias demo [--quick] [--out DIR]

Generates the synthetic dataset (five classes: weave, fabric, grain textures; washer, tablet
objects; reused when present), trains the CPU preset (MobileNetV2 with its bundled ImageNet
weights) on onnxruntime, evaluates it before and after training, writes the HTML report and prints
its path and the metrics table. About ten minutes on two cores (--quick: about one minute).

  --out DIR     where the data, the run and the report go (default runs/demo)
  --quick       the short version (two classes, 64x64, 100 steps; well under a minute)
  --threads N   onnxruntime threads (default: all cores)
  --quiet       no progress bars`;

const OPTIONS = {
  out: { type: 'string' },
  quick: { type: 'boolean' },
  threads: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export const command: Command = {
  name: 'demo',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS);
    const t0 = performance.now();
    const quick = flag(args, 'quick');
    const quiet = flag(args, 'quiet');
    const threads = num(args, 'threads', { int: true, min: 1 });
    const out = resolve(str(args, 'out') ?? join('runs', 'demo'));
    const demo = quick ? DEMO.quick : DEMO.full;
    const dataDir = join(out, quick ? 'data-quick' : 'data');
    const runDir = join(out, quick ? 'run-quick' : 'run');
    const say = (l: string) => process.stderr.write(`${l}\n`);

    // A previous demo run is replaced; any other folder in its place is refused before any work.
    await clearDemoRun(runDir);
    say(`[1/4] synthetic dataset in ${dataDir}`);
    const gen = quiet ? null : createProgress({ total: 1, label: 'generate' });
    const info = await generateSyntheticDataset({
      root: dataDir,
      size: demo.data.size,
      seed: 0,
      ifExists: 'reuse',
      ...(demo.data.classes ? { classes: demo.data.classes } : {}),
      ...(demo.data.counts ? { counts: demo.data.counts } : {}),
      onProgress: (d, t) => gen?.update(d, { images: t }),
    }).catch((e: unknown) => {
      throw new UserError(`cannot make the synthetic dataset in ${dataDir}: ${(e as Error).message.split('\n')[0]}`);
    });
    gen?.done();
    say(info.reused ? `reused the dataset (${info.images} images)` : `generated ${info.images} images`);

    await markDemoRun(runDir);
    const raw: RawConfig = {
      ...demo.config,
      data: { roots: [dataDir] },
      train: { ...(demo.config['train'] as object), cacheDir: join(out, 'cache'), ...(threads ? { threads } : {}) },
      output: { ...(demo.config['output'] as object), dir: runDir },
    } as RawConfig;
    const settings = resolveTrainSettings(raw);

    say(`[2/4] training (${quick ? 'quick' : 'full'} demo); the untrained model is evaluated first`);
    const stop = gracefulStop();
    const bars = quiet ? null : progressBars();
    let result;
    try {
      result = await train(settings, {
        evalBefore: true,
        signal: stop.signal,
        callbacks: combineCallbacks(runLog(), { onLog: say, ...(bars ? { onProgress: bars.onProgress } : {}) }),
      });
    } finally {
      bars?.close();
      stop.release();
    }
    if (!result.completed || !result.modelPath || !result.final) {
      process.stdout.write(`stopped at step ${result.step}; continue with: unias train --resume ${result.runDir}\n`);
      return 130;
    }

    say('[3/4] report');
    const predictor = await openPredictor(result.modelPath, { backend: 'onnx', threads: threads ?? null });
    let reportPath: string | null;
    const before = result.before?.report.mean;
    const after = result.final.report.mean;
    const change = `pixel AP untrained ${fmt(before?.pixel_ap)} -> trained ${fmt(after.pixel_ap)}; pixel AUROC ${fmt(before?.pixel_auroc)} -> ${fmt(after.pixel_auroc)}; image AUROC ${fmt(before?.image_auroc)} -> ${fmt(after.image_auroc)}`;
    try {
      const r = await evaluateAndReport({
        predictor,
        samples: result.testSamples,
        outDir: out,
        datasetDescription: `synthetic (${dataDir}): ${result.classes.join(', ')}`,
        evaluation: result.final,
        progress: !quiet,
        title: 'UniAS.ts demo: synthetic defects',
        notes: [change, `${result.step} steps at ${result.imagesPerSecond.toFixed(1)} images/s, ${((performance.now() - t0) / 1000).toFixed(0)} s in all`],
      });
      reportPath = r.reportPath;
    } finally {
      await predictor.dispose();
    }

    say('[4/4] done');
    const seconds = (performance.now() - t0) / 1000;
    process.stdout.write(
      `\n${metricsTable(result.final.report)}\n\n${change}\n` +
        `trained ${result.step} steps of ${settings.train.batchSize} images at ${result.imagesPerSecond.toFixed(1)} images/s; ${seconds.toFixed(0)} s in all\n` +
        `report: ${reportPath}\nmodel: ${result.modelPath}\n`,
    );
    return 0;
  },
};
