import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { flag, list, num, parse, str, type ParsedArgs } from '../args.js';
import { UsageError } from '../errors.js';
import {
  parseSetFlag,
  readTrainConfigFile,
  resolveTrainSettings,
  setPath,
  TRAIN_DEFAULTS,
  type RawConfig,
  type TrainSettings,
  combineCallbacks,
  fmt,
  resume as resumeRun,
  train as trainRun,
  type TrainRunResult,
} from '@unias/engine';
import { deviceArg } from './runtime-args.js';
import { progressBars } from '../progress.js';
import { runLog } from '../run-log.js';
import { metricsTable } from '../report/table.js';

const USAGE = `usage: unias train [--config FILE] --data DIR [--data DIR ...] [options]
       unias train --resume RUN_DIR [--steps N | --epochs N] [--stop-after N]

Trains one unified model on every class of the given dataset roots (MVTec-AD or VisA layout).
Settings come from the config file (YAML or JSON: preset, model, data, weights, backend, train,
output, thresholds), then from these flags.

method:
  --method M               knn (fit a nearest-neighbour memory bank on the frozen backbone,
                           PatchCore-style) | unias (train the UniAS head). Default: unias when
                           a training setting is given (--time-budget, --epochs, --steps, --lr,
                           --schedule, --weights), else knn: fitted in minutes, and ahead of a
                           30-minute UniAS run on mean pixel AP (UniAS leads on KSDD and on mean
                           image AUROC: docs/accuracy.md)
  --bank-size N            knn: patches kept in the memory bank (default 30000)
  --coreset S              knn: random (default) | greedy (k-center coreset) subsampling of the bank
  --knn-taps A,B           knn: backbone taps embedded per patch (default: all default taps but the finest)

data and model:
  --config FILE            YAML/JSON settings (see the README for the keys)
  --data DIR               dataset root (repeatable; all classes of all roots train one model)
  --format F               auto | mvtec | visa (default auto: visa when DIR/split_csv exists)
  --classes A,B            only these classes
  --augment A              auto | mvtec | visa | none: per-class flips/rotations (official lists)
  --preset NAME            paper | small | cpu | visa | uniad-baseline (default ${TRAIN_DEFAULTS.preset})
  --backbone ID            backbone id (e.g. mobilenet_v2, efficientnet-b4)
  --input-size N           input side, a multiple of 16
  --weights FILE           weights by name, official layout (backbone.*, sem_seg_head.*): .safetensors,
                           or a PyTorch .pth/.pt/.pth.tar (read without Python); repeatable
  --backbone-weights W     default (bundled) | pretrained (from \`unias weights fetch\`) | random |
                           FILE (a bare backbone file: .safetensors, .pth, .pt)
  --jitter-scale X         feature jitter scale (default 20)   --jitter-prob P (default 0.5)
  --loss-sign S            distance (1 - cos, default) | released (the official code's +cos)
  --loss-mse F             raw (official, default) | relative (each level's MSE over its target's
                           mean square) | none (the cosine term alone)
  --set KEY=VALUE          any config key, e.g. --set model.convDim=64 (repeatable)

optimisation of the UniAS head (defaults: the official AdamW and clipping; lr and schedule for a CPU budget):
  --backend B              onnx (default) | tfjs
  --device D               auto (default: CUDA, else WebGPU on a hardware GPU, else the CPU; says
                           which and why the others were skipped) | cpu | webgpu | cuda
                           (docs/devices.md); may be changed on --resume
  --time-budget T          fit the run to a time budget, e.g. 30m, 1h30m, 900 (seconds): the speed is
                           measured first, then the steps, the lr schedule and evaluations are sized
                           so the run (thresholds and final evaluation included) ends on time
                           (method unias: default when no --epochs/--steps: ${TRAIN_DEFAULTS.timeBudget / 60}m)
  --epochs N | --steps N   a fixed length instead
  --batch N                images per step (default ${TRAIN_DEFAULTS.batchSize})
  --lr X                   AdamW learning rate (default ${TRAIN_DEFAULTS.lr}); betas 0.9/0.999, eps 1e-8
  --weight-decay X         AdamW weight decay (default ${TRAIN_DEFAULTS.weightDecay})
  --clip X                 clip gradients to this global norm (default ${TRAIN_DEFAULTS.clipNorm}; 0 = off)
  --schedule S             cosine (default) | step (the official StepLR) | constant
  --lr-step-epochs N       StepLR period (default: 40% of the run, the official 400 of 1000 epochs)
  --lr-gamma X             StepLR factor (default ${TRAIN_DEFAULTS.lrGamma})
  --warmup-steps N         linear warm-up from 1% of the lr (default ${100 * TRAIN_DEFAULTS.warmupFraction}% of the run)
  --seed N                 seed of the init, the data order, dropout and jitter (default 0)
  --feature-cache          cache the frozen backbone's features on disk (default: only when the
                           backbone is >= 25% of a step's FLOPs; measured no faster below that)
  --no-cache               never cache: run the frozen backbone inside every step
  --cache-dir DIR          feature cache (default RUN_DIR/feature-cache)
  --threads N              onnxruntime threads (default: all cores)

run directory:
  --out DIR                run directory (default runs/unias-DATE-TIME)
  --log-every K            a JSONL log line every K steps (default ${TRAIN_DEFAULTS.logEvery})
  --eval-every K           evaluate on the test split every K epochs (default ${TRAIN_DEFAULTS.evalEvery}; 0 = at the end only)
  --checkpoint-every N     checkpoint every N steps (default ${TRAIN_DEFAULTS.checkpointEvery})
  --resume RUN_DIR         continue a run exactly where its last checkpoint left it
  --stop-after N           stop (with a checkpoint) after N steps of this invocation
  --quiet                  no progress bars

Writes RUN_DIR/run.json, train.jsonl, checkpoints/, metrics.json and model.safetensors (the model
in @unias/exporters' unias layout: weights, configuration, classes, and thresholds from normal
training images).`;

export const TRAIN_OPTIONS = {
  config: { type: 'string' },
  method: { type: 'string' },
  'bank-size': { type: 'string' },
  coreset: { type: 'string' },
  'knn-taps': { type: 'string' },
  data: { type: 'string', multiple: true },
  format: { type: 'string' },
  classes: { type: 'string' },
  augment: { type: 'string' },
  preset: { type: 'string' },
  backbone: { type: 'string' },
  'input-size': { type: 'string' },
  weights: { type: 'string', multiple: true },
  'backbone-weights': { type: 'string' },
  'jitter-scale': { type: 'string' },
  'jitter-prob': { type: 'string' },
  'loss-sign': { type: 'string' },
  'loss-mse': { type: 'string' },
  set: { type: 'string', multiple: true },
  backend: { type: 'string' },
  device: { type: 'string' },
  epochs: { type: 'string' },
  steps: { type: 'string' },
  'time-budget': { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  clip: { type: 'string' },
  schedule: { type: 'string' },
  'lr-step-epochs': { type: 'string' },
  'lr-gamma': { type: 'string' },
  'warmup-steps': { type: 'string' },
  seed: { type: 'string' },
  'no-cache': { type: 'boolean' },
  'feature-cache': { type: 'boolean' },
  'cache-dir': { type: 'string' },
  threads: { type: 'string' },
  out: { type: 'string' },
  'log-every': { type: 'string' },
  'eval-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'string' },
  'stop-after': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** Flags as config keys: each flag sets one key, checked like the file's. */
const FLAG_KEYS: Record<string, { key: string; kind: 'string' | 'number' | 'list' }> = {
  method: { key: 'method', kind: 'string' },
  'bank-size': { key: 'knn.bankSize', kind: 'number' },
  coreset: { key: 'knn.subsampling', kind: 'string' },
  format: { key: 'data.format', kind: 'string' },
  augment: { key: 'data.augmentation', kind: 'string' },
  preset: { key: 'preset', kind: 'string' },
  backbone: { key: 'model.backbone', kind: 'string' },
  'input-size': { key: 'model.inputSize', kind: 'number' },
  'jitter-scale': { key: 'model.jitter.scale', kind: 'number' },
  'jitter-prob': { key: 'model.jitter.prob', kind: 'number' },
  'loss-sign': { key: 'model.loss.cosine', kind: 'string' },
  'loss-mse': { key: 'model.loss.mse', kind: 'string' },
  backend: { key: 'backend', kind: 'string' },
  device: { key: 'device', kind: 'string' },
  'time-budget': { key: 'train.timeBudget', kind: 'string' },
  epochs: { key: 'train.epochs', kind: 'number' },
  steps: { key: 'train.steps', kind: 'number' },
  batch: { key: 'train.batchSize', kind: 'number' },
  lr: { key: 'train.lr', kind: 'number' },
  'weight-decay': { key: 'train.weightDecay', kind: 'number' },
  clip: { key: 'train.clipNorm', kind: 'number' },
  schedule: { key: 'train.schedule', kind: 'string' },
  'lr-step-epochs': { key: 'train.lrStepEpochs', kind: 'number' },
  'lr-gamma': { key: 'train.lrGamma', kind: 'number' },
  'warmup-steps': { key: 'train.warmupSteps', kind: 'number' },
  seed: { key: 'train.seed', kind: 'number' },
  'cache-dir': { key: 'train.cacheDir', kind: 'string' },
  threads: { key: 'train.threads', kind: 'number' },
  out: { key: 'output.dir', kind: 'string' },
  'log-every': { key: 'output.logEvery', kind: 'number' },
  'eval-every': { key: 'output.evalEvery', kind: 'number' },
  'checkpoint-every': { key: 'output.checkpointEvery', kind: 'number' },
};

const PATH_FLAGS = new Set(['cache-dir', 'out']);

/** Config file, then flags, then defaults. */
export async function settingsFromArgs(args: ParsedArgs): Promise<TrainSettings> {
  const configPath = str(args, 'config');
  const raw: RawConfig = configPath ? await readTrainConfigFile(configPath) : {};
  for (const [flagName, { key, kind }] of Object.entries(FLAG_KEYS)) {
    const v = str(args, flagName);
    if (v === undefined) continue;
    let value: string | number = v;
    if (kind === 'number') {
      value = Number(v);
      if (v.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${flagName} must be a number, got "${v}"`);
    } else if (PATH_FLAGS.has(flagName)) {
      value = resolve(v);
    }
    setPath(raw, key, value, `--${flagName}`);
    // a flag for the run's length replaces the file's others
    const lengthKeys = ['train.steps', 'train.epochs', 'train.timeBudget'];
    if (lengthKeys.includes(key) && typeof raw['train'] === 'object') {
      for (const other of lengthKeys) if (other !== key) delete (raw['train'] as Record<string, unknown>)[other.slice('train.'.length)];
    }
  }
  const data = list(args, 'data');
  if (data.length > 0)
    setPath(
      raw,
      'data.roots',
      data.map((d) => resolve(d)),
      '--data',
    );
  const knnTaps = str(args, 'knn-taps');
  if (knnTaps !== undefined)
    setPath(
      raw,
      'knn.taps',
      knnTaps
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      '--knn-taps',
    );
  const classes = str(args, 'classes');
  if (classes !== undefined)
    setPath(
      raw,
      'data.classes',
      classes
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      '--classes',
    );
  const weights = list(args, 'weights');
  if (weights.length > 0)
    setPath(
      raw,
      'weights',
      weights.map((f) => resolve(f)),
      '--weights',
    );
  const bw = str(args, 'backbone-weights');
  if (bw !== undefined) setPath(raw, 'backboneWeights', bw === 'default' || bw === 'random' || bw === 'pretrained' ? bw : resolve(bw), '--backbone-weights');
  if (flag(args, 'no-cache') && flag(args, 'feature-cache')) throw new UsageError('give --feature-cache or --no-cache, not both');
  if (flag(args, 'no-cache')) setPath(raw, 'train.featureCache', false, '--no-cache');
  if (flag(args, 'feature-cache')) setPath(raw, 'train.featureCache', true, '--feature-cache');
  for (const s of list(args, 'set')) {
    const { path, value } = parseSetFlag(s);
    setPath(raw, path, value, `--set ${path}`);
  }
  return resolveTrainSettings(raw);
}

function printResult(r: TrainRunResult): void {
  const out = process.stdout;
  if (!r.completed) {
    out.write(`stopped at step ${r.step} of ${r.totalSteps}; continue with: unias train --resume ${r.runDir}\n`);
    return;
  }
  if (r.final) {
    out.write(`${metricsTable(r.final.report)}\n`);
  }
  if (r.knn) {
    out.write(
      `fitted a memory bank of ${r.knn.bankSize} patches (of ${r.knn.patchesSeen}); thresholds: image ${fmt(r.thresholds?.image, 4)}, pixel ${fmt(r.thresholds?.pixel, 4)}\nmodel: ${r.modelPath}\n`,
    );
    return;
  }
  out.write(
    `trained ${r.step} steps at ${r.imagesPerSecond.toFixed(1)} images/s; thresholds: image ${fmt(r.thresholds?.image, 4)}, pixel ${fmt(r.thresholds?.pixel, 4)}\n` +
      `model: ${r.modelPath}\nlogs: ${r.runDir}/train.jsonl${r.final ? `\nmetrics: ${r.runDir}/metrics.json` : ''}\n`,
  );
}

/** SIGINT/SIGTERM: finish the step, checkpoint, stop. A second signal exits at once. */
export function gracefulStop(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${sig}: stopping after this step (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Said when no method was given and nothing asked for training (the rule: defaultMethod). */
export const DEFAULT_METHOD_NOTE =
  'method knn (the default): a nearest-neighbour memory bank on the frozen backbone, the most accurate detector in a CPU budget (docs/accuracy.md); ' +
  '--method unias (or a training length: --time-budget, --epochs, --steps) trains the UniAS head';

export const command: Command = {
  name: 'train',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, TRAIN_OPTIONS);
    const resume = str(args, 'resume');
    const stopAfter = num(args, 'stop-after', { int: true, min: 1 });
    const quiet = flag(args, 'quiet');
    const log = (l: string) => process.stderr.write(`${l}\n`);
    const stop = gracefulStop();
    const bars = quiet ? null : progressBars();
    // the run's JSONL log (RUN_DIR/train.jsonl) is a plugin, like the bars
    const callbacks = combineCallbacks(runLog(), { onLog: log, ...(bars ? { onProgress: bars.onProgress } : {}) });
    try {
      let result: TrainRunResult;
      if (resume) {
        const allowed = new Set(['resume', 'stop-after', 'quiet', 'epochs', 'steps', 'device']);
        const other = Object.keys(args.values).filter((k) => args.values[k] !== undefined && !allowed.has(k));
        if (other.length > 0)
          throw new UsageError(
            `--${other[0]} cannot be changed on --resume (the run's settings are in ${resume}/run.json); only --steps/--epochs, --device, --stop-after and --quiet may be given`,
          );
        const device = deviceArg(str(args, 'device'));
        const epochs = num(args, 'epochs', { int: true, min: 1 });
        const steps = num(args, 'steps', { int: true, min: 1 });
        if (epochs !== undefined && steps !== undefined) throw new UsageError('give --epochs or --steps, not both');
        result = await resumeRun(resume, {
          ...(epochs !== undefined || steps !== undefined
            ? { extend: { ...(epochs !== undefined ? { epochs } : {}), ...(steps !== undefined ? { steps } : {}) } }
            : {}),
          ...(stopAfter !== undefined ? { stopAfter } : {}),
          ...(device !== undefined ? { device } : {}),
          signal: stop.signal,
          callbacks,
        });
      } else {
        if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
        const settings = await settingsFromArgs(args);
        if (settings.methodFrom === 'default') log(DEFAULT_METHOD_NOTE);
        result = await trainRun(settings, { ...(stopAfter !== undefined ? { stopAfter } : {}), signal: stop.signal, callbacks });
      }
      printResult(result);
      return result.completed || stopAfter !== undefined ? 0 : 130;
    } finally {
      bars?.close();
      stop.release();
    }
  },
};
