/**
 * The JSONL log plugin on a run driven through the engine: the records the loop wrote before it was
 * a plugin (types in order, the start record's fields), the cut back on resume (lines past the
 * checkpoint and torn lines dropped), and nothing at all without the plugin.
 */
import { appendFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resume, train } from '@unias/engine';
import { tempDir, tinyDataset, tinySettings } from '@unias/engine/testing';
import { LOG_FILE, runLog } from './run-log.js';

type Line = Record<string, unknown> & { type: string; step?: number };

async function logOf(run: string): Promise<Line[]> {
  return (await readFile(join(run, LOG_FILE), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

describe('runLog: train.jsonl as a plugin', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let data: string;
  beforeAll(async () => {
    tmp = await tempDir('run-log');
    data = await tinyDataset(join(tmp.dir, 'data'));
  });
  afterAll(async () => tmp.cleanup());

  it('writes the records the training loop wrote: start, evaluations, steps, checkpoints, stop, and after a resume the rest and the end', async () => {
    const out = join(tmp.dir, 'run');
    // 6 steps of 4 of 16 images (4 per epoch): a step line every 2 steps, an evaluation every epoch
    const settings = tinySettings(data, out, { steps: 6, checkpointEvery: 2, extra: { output: { dir: out, logEvery: 2, evalEvery: 1, checkpointEvery: 2 } } });
    const stopped = await train(settings, { evalBefore: true, stopAfter: 3, callbacks: runLog() });
    expect(stopped.completed).toBe(false);
    expect((await logOf(out)).map((l) => l.type)).toEqual(['start', 'eval', 'step', 'checkpoint', 'checkpoint', 'stop']);

    // what a kill after the checkpoint of step 3 leaves: a line of a later step, and a torn line
    await appendFile(join(out, LOG_FILE), `${JSON.stringify({ time: new Date().toISOString(), type: 'step', step: 4 })}\n{"time":"2026-`);
    const done = await resume(out, { callbacks: runLog() });
    expect(done.completed).toBe(true);
    const lines = await logOf(out);
    // the sequence the engine's own log had (captured from it before the log became a plugin)
    expect(lines.map((l) => l.type)).toEqual([
      'start',
      'eval',
      'step',
      'checkpoint',
      'checkpoint',
      'stop',
      'step',
      'checkpoint',
      'eval',
      'step',
      'checkpoint',
      'eval',
      'end',
    ]);
    for (const l of lines) expect(new Date(l['time'] as string).toISOString()).toBe(l['time']);
    const { time: _time, ...start } = lines[0]!;
    expect(start).toEqual({
      type: 'start',
      step: 0,
      preset: 'cpu',
      backbone: 'mobilenet_v2',
      backbone_weights: expect.stringMatching(/mobilenet/),
      backend: expect.any(String),
      classes: ['fabric', 'washer'],
      train_images: 16,
      test_images: 12,
      batches_per_epoch: 4,
      total_steps: 6,
      lr_step_steps: 2,
      feature_cache: false,
      backbone_flop_share: 0.17,
    });
    expect(Object.keys(lines[0]!)).toEqual(['time', ...Object.keys(start)]);
    expect(lines.map((l) => l.step)).toEqual([0, 0, 2, 2, 3, 3, 4, 4, 4, 6, 6, 6, 6]);
    // the step record: 0-based epoch, loss, lr, grad norm (no clipping reported otherwise), images, rate
    expect(Object.keys(lines[6]!)).toEqual(['time', 'type', 'step', 'epoch', 'loss', 'lr', 'grad_norm', 'images', 'images_per_s']);
    expect(lines[6]).toMatchObject({ step: 4, epoch: 0, images: 16 });
    expect(lines[9]).toMatchObject({ step: 6, epoch: 1, images: 24 });
    expect(lines[3]).toMatchObject({ dir: join('checkpoints', 'step-00000002') });
    // evaluations: the untrained model, epoch 1 (periodic: no label), the final one
    const evals = lines.filter((l) => l.type === 'eval');
    expect(evals.map((l) => [l.step, l['epoch'], l['label']])).toEqual([
      [0, 0, 'untrained'],
      [4, 1, undefined],
      [6, 2, 'final'],
    ]);
    for (const e of evals)
      expect(Object.keys(e).filter((k) => !['time', 'type', 'step', 'epoch', 'label'].includes(k))).toEqual(['mean', 'classes', 'seconds']);
    expect(Object.keys(lines.at(-1)!)).toEqual(['time', 'type', 'step', 'thresholds', 'images_per_s', 'seconds']);
    expect(lines.at(-1)!['thresholds']).toEqual(done.thresholds);
  });

  it('is written only by the plugin: a run without it leaves no train.jsonl', async () => {
    const out = join(tmp.dir, 'bare');
    const r = await train(tinySettings(data, out, { steps: 2 }), { skipFinalEval: true });
    expect(r.completed).toBe(true);
    expect(await readdir(out)).not.toContain(LOG_FILE);
  });
});
