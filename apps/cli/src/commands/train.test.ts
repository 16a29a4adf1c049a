import { cp, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '@unias/graph';
import { loadTrainingState } from '@unias/training';
import { parse } from '../args.js';
import { combineCallbacks, runTraining } from '@unias/engine';
import { runLog } from '../run-log.js';
import { runCli, tempDir, tinyConfigFile, tinyDataset } from '../testing/helpers.js';
import { TRAIN_OPTIONS, settingsFromArgs } from './train.js';

interface LogLine {
  type: string;
  step: number;
  loss?: number;
  lr?: number;
}

async function logOf(run: string): Promise<LogLine[]> {
  return (await readFile(join(run, 'train.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogLine);
}

function lossesOf(lines: readonly LogLine[]): number[] {
  return lines.filter((l) => l.type === 'step').map((l) => l.loss!);
}

/** Every tensor of the two files, byte for byte. */
async function sameTensors(a: string, b: string): Promise<{ count: number; differing: string[] }> {
  const fa = await readSafetensorsFile(a);
  const fb = await readSafetensorsFile(b);
  expect([...fb.tensors.keys()].sort()).toEqual([...fa.tensors.keys()].sort());
  const differing: string[] = [];
  for (const [name, ta] of fa.tensors) {
    const tb = fb.tensors.get(name)!;
    if (Buffer.compare(Buffer.from(ta.bytes), Buffer.from(tb.bytes)) !== 0) differing.push(name);
  }
  return { count: fa.tensors.size, differing };
}

describe('unias train', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let data: string;
  let config: string;
  const runs: Record<string, string> = {};
  // StepLR at lr 2e-3 (not the default cosine): its period is what resuming must keep
  const common = () => [
    '--config',
    config,
    '--steps',
    '6',
    '--schedule',
    'step',
    '--lr',
    '0.002',
    '--checkpoint-every',
    '2',
    '--cache-dir',
    join(tmp.dir, 'cache'),
    '--quiet',
  ];

  beforeAll(async () => {
    tmp = await tempDir('train');
    data = await tinyDataset(join(tmp.dir, 'data'));
    config = await tinyConfigFile(tmp.dir, data);
    for (const k of ['straight', 'cached', 'stopped', 'crashed']) runs[k] = join(tmp.dir, k);
    // The references: 6 steps without interruption, the backbone inside the step (the default for
    // this model) and with the feature cache.
    const r = await runCli(['train', ...common(), '--out', runs['straight']!]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/feature cache off \(backbone 17% of a step\)/);
    const c = await runCli(['train', ...common(), '--feature-cache', '--out', runs['cached']!]);
    expect(c.code, c.stderr).toBe(0);
  });
  afterAll(async () => tmp.cleanup());

  it('writes the run directory: settings, a log line per step, checkpoints, metrics and a reloadable model', async () => {
    const run = runs['straight']!;
    expect((await readdir(run)).sort()).toEqual(['checkpoints', 'metrics.json', 'model.safetensors', 'run.json', 'train.jsonl']);
    const lines = await logOf(run);
    expect(lines.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines.filter((l) => l.type === 'checkpoint').map((l) => l.step)).toEqual([2, 4, 6]);
    expect(lines.some((l) => l.type === 'eval')).toBe(true);
    // StepLR at 40% of 6 steps (round(2.4) = 2 steps), gamma 0.1, from lr 0.002
    expect(lines.filter((l) => l.type === 'step').map((l) => l.lr)).toEqual([0.002, 0.002, 0.0002, 0.0002, 0.00002, 0.00002].map((v) => expect.closeTo(v, 12)));
    // two checkpoints kept; the latest holds the step, optimizer moments and the Rng
    const cks = (await readdir(join(run, 'checkpoints'))).sort();
    expect(cks).toEqual(['latest.json', 'step-00000004', 'step-00000006']);
    const state = await loadTrainingState(join(run, 'checkpoints', 'step-00000006', 'state.safetensors'));
    expect(state.step).toBe(6);
    expect([...state.optimizer.keys()].some((k) => k.startsWith('adamw.exp_avg.'))).toBe(true);
    const loader = JSON.parse(await readFile(join(run, 'checkpoints', 'step-00000006', 'loader.json'), 'utf8')) as { loader: { epoch: number; batch: number } };
    // 16 training images, batch 4: 4 batches per epoch, so 6 steps end in epoch 1 at batch 2
    expect(loader.loader).toMatchObject({ epoch: 1, batch: 2 });
    const metrics = JSON.parse(await readFile(join(run, 'metrics.json'), 'utf8')) as { classes: Record<string, unknown> };
    expect(Object.keys(metrics.classes).sort()).toEqual(['fabric', 'washer']);
    const model = await readSafetensorsFile(join(run, 'model.safetensors'));
    expect(model.metadata['format']).toBe('unias-model/1');
    expect(JSON.parse(model.metadata['thresholds']!)).toMatchObject({ image: expect.any(Number), pixel: expect.any(Number) });
  });

  it('--stop-after then --resume gives bit-identical parameters to the uninterrupted run', async () => {
    const run = runs['stopped']!;
    const a = await runCli(['train', ...common(), '--out', run, '--stop-after', '3']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/stopped at step 3 of 6/);
    // --device auto (the default) says which device and why the better ones were skipped.
    expect(a.stderr).toMatch(/^device (cpu \(the (only|best) device (that works )?here\)|cuda|webgpu)/m);
    if (/^device cpu/m.test(a.stderr)) expect(a.stderr).toMatch(/; skipped cuda: .*; skipped webgpu: /);
    // The device may change on --resume (here to cpu, which is asked for by name and not announced).
    const b = await runCli(['train', '--resume', run, '--device', 'cpu', '--quiet']);
    expect(b.stderr).toMatch(/resuming .* at step 3 of 6/);
    expect(b.stderr).not.toMatch(/^device /m);
    expect(b.code).toBe(0);
    // The run's settings record the device of its latest invocation (a later --resume keeps it).
    const record = JSON.parse(await readFile(join(run, 'run.json'), 'utf8')) as { settings: { device: string } };
    expect(record.settings.device).toBe('cpu');
    const same = await sameTensors(join(runs['straight']!, 'model.safetensors'), join(run, 'model.safetensors'));
    expect(same.count).toBeGreaterThan(100);
    expect(same.differing).toEqual([]);
    expect(lossesOf(await logOf(run))).toEqual(lossesOf(await logOf(runs['straight']!)));
  });

  it('after a crash (no final checkpoint) --resume restarts from the last checkpoint and ends with the same parameters (feature cache on)', async () => {
    const run = runs['crashed']!;
    const settings = await settingsFromArgs(parse([...common(), '--feature-cache', '--out', run], TRAIN_OPTIONS));
    await expect(
      runTraining({
        settings,
        // the CLI's log plugin first, as `unias train` attaches it: step 5 is logged before the crash
        callbacks: combineCallbacks(runLog(), {
          onStep: ({ step }) => {
            if (step === 5) throw new Error('simulated crash');
          },
        }),
      }),
    ).rejects.toThrow('simulated crash');
    // step 5 was logged before the crash; the checkpoint is at step 4
    expect(lossesOf(await logOf(run))).toHaveLength(5);
    const r = await runCli(['train', '--resume', run, '--quiet']);
    expect(r.stderr).toMatch(/at step 4 of 6/);
    expect(r.code).toBe(0);
    expect((await sameTensors(join(runs['cached']!, 'model.safetensors'), join(run, 'model.safetensors'))).differing).toEqual([]);
    // the log was cut back to step 4 and continued: one line per step, as in the straight run
    expect(lossesOf(await logOf(run))).toEqual(lossesOf(await logOf(runs['cached']!)));
  });

  it('training from cached features gives the losses of training from images', async () => {
    const fromImages = lossesOf(await logOf(runs['straight']!));
    const cached = lossesOf(await logOf(runs['cached']!));
    expect(cached).toHaveLength(6);
    // the same dropout and jitter draws; only the backbone's float rounding differs
    cached.forEach((l, i) => expect(Math.abs(l - fromImages[i]!) / fromImages[i]!).toBeLessThan(1e-4));
  });

  it('--backend tfjs trains the same model: the losses of the first steps agree with onnxruntime', async () => {
    const run = join(tmp.dir, 'tfjs');
    const r = await runCli(['train', ...common(), '--backend', 'tfjs', '--out', run, '--stop-after', '3']);
    expect(r.code, r.stderr).toBe(0);
    const lines = await logOf(run);
    expect(JSON.stringify(lines[0])).toMatch(/"backend":"tfjs-/);
    const onnx = lossesOf(await logOf(runs['straight']!)).slice(0, 3);
    // step 2 and 3 losses depend on the first updates: gradients, clipping and AdamW agree too
    lossesOf(lines).forEach((l, i) => expect(Math.abs(l - onnx[i]!) / onnx[i]!).toBeLessThan(1e-5));
  });

  it('with augmentation, the feature cache keys include the variant (flips, quarter turns) of each image', async () => {
    // a copy of the texture class under an MVTec name that the official lists flip and rotate
    const root = join(tmp.dir, 'data-aug');
    await cp(join(data, 'fabric'), join(root, 'carpet'), { recursive: true });
    await cp(join(data, 'washer'), join(root, 'washer'), { recursive: true });
    const cacheDir = join(tmp.dir, 'cache-aug');
    const r = await runCli([
      'train',
      '--config',
      config,
      '--data',
      root,
      '--augment',
      'mvtec',
      '--steps',
      '8',
      '--feature-cache',
      '--cache-dir',
      cacheDir,
      '--out',
      join(tmp.dir, 'aug'),
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const entries: Array<{ path: string; variant: string | null }> = [];
    for (const ns of await readdir(cacheDir)) {
      for (const shard of (await readdir(join(cacheDir, ns))).filter((n) => n !== 'key.json')) {
        for (const f of await readdir(join(cacheDir, ns, shard))) {
          entries.push(
            JSON.parse((await readSafetensorsFile(join(cacheDir, ns, shard, f))).metadata['unias.cache.entry']!) as { path: string; variant: string | null },
          );
        }
      }
    }
    const carpet = entries.filter((e) => e.path.includes('/carpet/'));
    const washer = entries.filter((e) => e.path.includes('/washer/'));
    // 8 steps of 4 = two epochs over 16 images; the washer is not in the lists: one entry per image
    expect(washer.every((e) => e.variant === null)).toBe(true);
    expect(new Set(washer.map((e) => e.path)).size).toBe(washer.length);
    expect(carpet.some((e) => e.variant !== null && /^h[01]v[01]r[0-3]$/.test(e.variant))).toBe(true);
    // an image seen in two variants has two entries
    expect(carpet.length).toBeGreaterThan(new Set(carpet.map((e) => e.path)).size);
  });

  it('--resume with a longer --steps extends a finished run, keeping its StepLR period', async () => {
    const run = runs['stopped']!;
    const r = await runCli(['train', '--resume', run, '--steps', '8', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming .* at step 6 of 8/);
    const steps = (await logOf(run)).filter((l) => l.type === 'step');
    expect(steps.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // the period fixed by the first invocation (2 steps) goes on: 0.002 x 0.1^3 for steps 7 and 8
    expect(steps.slice(6).map((l) => l.lr)).toEqual([expect.closeTo(2e-6, 15), expect.closeTo(2e-6, 15)]);
    const record = JSON.parse(await readFile(join(run, 'run.json'), 'utf8')) as { settings: { train: { steps: number } }; fixed: { lrStepSteps: number } };
    expect(record.settings.train.steps).toBe(8);
    expect(record.fixed.lrStepSteps).toBe(2);
  });

  it('--resume refuses to change the settings, and a finished run directory is not overwritten', async () => {
    const a = await runCli(['train', '--resume', runs['straight']!, '--lr', '0.1']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--lr cannot be changed on --resume/);
    const d = await runCli(['train', '--resume', runs['straight']!, '--device', 'tpu']);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--device must be one of auto, cpu, webgpu, cuda, got "tpu"/);
    const b = await runCli(['train', ...common(), '--out', runs['straight']!]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/already holds a run; continue it with --resume/);
  });
});
