/**
 * The engine with no command line: a tiny model trained through `train`, its callbacks in the
 * order a plugin relies on (the plan first), no file it was not asked for (no log: the CLI's
 * train.jsonl is a plugin), the model it writes opened by the detector, and a run stopped by its
 * signal that resumes where it stopped.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector } from '@unias/detector';
import { exportModel, predict, resume, train, type TrainRunResult, type UniasStartEvent } from './index.js';
import { tempDir, tinyDataset, tinySettings } from './testing/tiny-run.js';

describe('train through @unias/engine', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let data: string;

  beforeAll(async () => {
    tmp = await tempDir('train');
    data = await tinyDataset(join(tmp.dir, 'data'));
  });
  afterAll(async () => tmp.cleanup());

  it('trains a tiny model: steps, checkpoints, the final evaluation and the end are called back in order; the model predicts and exports', async () => {
    const events: string[] = [];
    const stages = new Set<string>();
    const lines: string[] = [];
    const out = join(tmp.dir, 'straight');
    let start: UniasStartEvent | null = null;
    const result = await train(tinySettings(data, out, { steps: 4, checkpointEvery: 2 }), {
      callbacks: {
        onStart: (e) => {
          if (e.method === 'unias') start = e;
          events.push(`start ${e.method}`);
        },
        onProgress: (stage, done, total) => {
          stages.add(stage);
          expect(done).toBeLessThanOrEqual(total);
        },
        onStep: (e) => {
          expect(Number.isFinite(e.loss)).toBe(true);
          expect(e.totalSteps).toBe(4);
          events.push(`step ${e.step}`);
        },
        onCheckpoint: (e) => {
          expect(e.dir).toBe(join(out, 'checkpoints', `step-0000000${e.step}`));
          events.push(`checkpoint ${e.step}`);
        },
        onEvaluation: (e) => void events.push(`evaluation ${e.kind}`),
        onEnd: (r) => void events.push(`end ${r.completed ? 'completed' : 'stopped'}`),
        onLog: (line) => lines.push(line),
      },
    });
    expect(events).toEqual(['start unias', 'step 1', 'step 2', 'checkpoint 2', 'step 3', 'step 4', 'checkpoint 4', 'evaluation final', 'end completed']);
    // the plan: 16 normal training images in batches of 4, StepLR at 40% of 4 steps (round(1.6) = 2)
    expect(start).toMatchObject({
      method: 'unias',
      runDir: out,
      backbone: 'mobilenet_v2',
      classes: ['fabric', 'washer'],
      trainImages: 16,
      testImages: 12,
      batchesPerEpoch: 4,
      totalSteps: 4,
      lrStepSteps: 2,
      featureCache: false,
      resumedFrom: null,
    });
    expect(start!.settings.preset).toBe('cpu');
    expect(start!.backboneFlopShare).toBeCloseTo(0.17, 2);
    // the engine writes what the run needs and nothing else: no log unless a plugin writes one
    expect((await readdir(out)).sort()).toEqual(['checkpoints', 'metrics.json', 'model.safetensors', 'run.json']);
    expect([...stages]).toEqual(['train', 'thresholds', 'eval (final)']);
    expect(lines.join('\n')).toMatch(/4 steps of 4 images/);
    expect(result.completed).toBe(true);
    expect(result.step).toBe(4);
    expect(result.final?.report.mean.pixel_auroc).toBeGreaterThanOrEqual(0);

    // the model file opens with the detector and gives a finite map at the image's size
    const detector = await createDetector(result.modelPath!, { device: 'cpu' });
    try {
      const image = result.testSamples[0]!.path;
      const d = await detector.detect(image);
      expect(d.map.length).toBe(d.width * d.height);
      expect(d.map.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(d.score)).toBe(true);
      expect(d.label).not.toBeNull(); // the run stored its thresholds with the model
    } finally {
      await detector.dispose();
    }
    const many = [];
    for await (const d of predict(
      out,
      result.testSamples.slice(0, 2).map((s) => s.path),
      { device: 'cpu' },
    ))
      many.push(d);
    expect(many.map((d) => d.name)).toEqual(result.testSamples.slice(0, 2).map((s) => s.path));

    // exported to ONNX from the run directory, the model scores the image as the run's own does
    const onnx = join(tmp.dir, 'straight.onnx');
    const exported = await exportModel(out, { format: 'onnx', out: onnx });
    expect(exported.files).toEqual([onnx]);
    const fromOnnx = [];
    for await (const d of predict(onnx, [many[0]!.name], { device: 'cpu' })) fromOnnx.push(d);
    expect(fromOnnx[0]!.score).toBeCloseTo(many[0]!.score, 4);
  });

  it('stops on its signal with a checkpoint of the last step, and resume finishes the run', async () => {
    const out = join(tmp.dir, 'stopped');
    const stop = new AbortController();
    let ended: TrainRunResult | null = null;
    const result = await train(tinySettings(data, out, { steps: 4, checkpointEvery: 10 }), {
      signal: stop.signal,
      callbacks: {
        onStep: (e) => {
          if (e.step === 3) stop.abort();
        },
        onEnd: (r) => {
          ended = r;
        },
      },
    });
    expect(result.completed).toBe(false);
    expect(result.step).toBe(3);
    expect(result.modelPath).toBeNull();
    expect(ended).toBe(result);
    expect(await readdir(join(out, 'checkpoints'))).toContain('step-00000003');

    const steps: number[] = [];
    const lines: string[] = [];
    let resumedFrom: number | null = null;
    const resumed = await resume(out, {
      callbacks: {
        onStart: (e) => void (resumedFrom = e.method === 'unias' ? e.resumedFrom : null),
        onStep: (e) => void steps.push(e.step),
        onLog: (l) => lines.push(l),
      },
    });
    expect(lines.join('\n')).toMatch(/resuming .* at step 3 of 4/);
    expect(resumedFrom).toBe(3);
    expect(steps).toEqual([4]);
    expect(resumed.completed).toBe(true);
    expect(resumed.modelPath).toBe(join(out, 'model.safetensors'));
    expect(await readdir(out)).not.toContain('train.jsonl');
  });
});
