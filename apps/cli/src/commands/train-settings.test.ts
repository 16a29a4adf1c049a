import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESETS } from '@unias/model';
import { parse } from '../args.js';
import { TRAIN_OPTIONS, settingsFromArgs } from './train.js';
import { tempDir } from '../testing/helpers.js';
import { closest, editDistance, readTrainConfigFile, resolveTrainSettings, TRAIN_DEFAULTS } from '@unias/engine';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir('config');
});
afterAll(async () => tmp.cleanup());

describe('suggestions', () => {
  it('edit distance and the closest known name', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closest('convDm', ['convDim', 'hidden', 'maskDim'])).toBe('convDim');
    expect(closest('batch_size', ['batchSize', 'lr'])).toBe('batchSize');
    expect(closest('zzzzzz', ['convDim', 'hidden'])).toBeUndefined();
  });
});

describe('train settings', () => {
  it('defaults are the official optimiser settings with the lr and cosine schedule of a budgeted run; the warm-up is left to the run length', () => {
    const s = resolveTrainSettings({ data: { roots: ['/d'] } });
    expect(s.train).toMatchObject({
      lr: 1e-3,
      betas: [0.9, 0.999],
      weightDecay: 1e-4,
      clipNorm: 0.1,
      lrGamma: 0.1,
      schedule: 'cosine',
      lrStepEpochs: null,
      warmupSteps: null,
    });
    // no length given: a time budget, never the official 1000 epochs (days on two cores)
    expect(s.train).toMatchObject({ epochs: null, steps: null, timeBudget: TRAIN_DEFAULTS.timeBudget });
    expect(s.preset).toBe('cpu');
    expect(s.model).toEqual(PRESETS.cpu);
    expect(s.backend).toBe('onnx');
    expect(s.model.loss).toEqual({ weight: 10, cosine: 'distance', mse: 'none' }); // the cpu preset's
  });

  it('the method: knn unless one is given or a training setting asks for the UniAS head', () => {
    const method = (argv: string[]) => settingsFromArgs(parse(['--data', '/d', ...argv], TRAIN_OPTIONS)).then((s) => [s.method, s.methodFrom]);
    return Promise.all([
      expect(method([])).resolves.toEqual(['knn', 'default']),
      expect(method(['--batch', '4', '--input-size', '128'])).resolves.toEqual(['knn', 'default']),
      expect(method(['--method', 'unias'])).resolves.toEqual(['unias', 'given']),
      expect(method(['--method', 'knn', '--steps', '3'])).resolves.toEqual(['knn', 'given']),
      ...[
        ['--steps', '3'],
        ['--epochs', '2'],
        ['--time-budget', '10m'],
        ['--lr', '1e-4'],
        ['--schedule', 'cosine'],
      ].map((a) => expect(method(a)).resolves.toEqual(['unias', 'training-options'])),
      expect(method(['--set', 'train.warmupSteps=5'])).resolves.toEqual(['unias', 'training-options']),
    ]);
  });

  it('a time budget in seconds or as a duration; it excludes a fixed length', () => {
    expect(resolveTrainSettings({ data: { roots: ['/d'] }, train: { timeBudget: '1h30m' } }).train.timeBudget).toBe(5400);
    expect(resolveTrainSettings({ data: { roots: ['/d'] }, train: { timeBudget: 600 } }).train.timeBudget).toBe(600);
    expect(resolveTrainSettings({ data: { roots: ['/d'] }, train: { steps: 10 } }).train).toMatchObject({ steps: 10, timeBudget: null });
    expect(() => resolveTrainSettings({ data: { roots: ['/d'] }, train: { timeBudget: 'soon' } })).toThrow(
      /train.timeBudget: expected seconds or a duration such as "30m", got "soon"/,
    );
    expect(() => resolveTrainSettings({ data: { roots: ['/d'] }, train: { timeBudget: 60, epochs: 2 } })).toThrow(
      /a time budget or train.epochs\/train.steps, not both/,
    );
  });

  it('a YAML file: preset + overrides merged field by field; relative paths from the file', async () => {
    const file = join(tmp.dir, 'a.yaml');
    await writeFile(
      file,
      'preset: small\nmodel:\n  inputSize: 256\n  loss: { cosine: released }\n  jitter: { prob: 1 }\ndata:\n  roots: [mvtec, ../visa]\nweights: head.safetensors\n',
    );
    const s = resolveTrainSettings(await readTrainConfigFile(file));
    expect(s.model).toMatchObject({ ...PRESETS.small, inputSize: 256, loss: { weight: 10, cosine: 'released', mse: 'raw' }, jitter: { scale: 20, prob: 1 } });
    expect(s.data.roots).toEqual([join(tmp.dir, 'mvtec'), join(tmp.dir, '..', 'visa')]);
    expect(s.weights).toEqual([join(tmp.dir, 'head.safetensors')]);
  });

  it("JSON works the same; flags override the file; --steps replaces the file's epochs", async () => {
    const file = join(tmp.dir, 'b.json');
    await writeFile(file, JSON.stringify({ data: { roots: ['/data'] }, train: { epochs: 50, lr: 0.01, batchSize: 4 }, backend: 'tfjs' }));
    const s = await settingsFromArgs(
      parse(
        [
          '--config',
          file,
          '--lr',
          '0.002',
          '--steps',
          '30',
          '--backend',
          'onnx',
          '--loss-sign',
          'released',
          '--loss-mse',
          'relative',
          '--jitter-scale',
          '5',
          '--set',
          'model.convDim=64',
          '--set',
          'train.betas=[0.5,0.9]',
          '--out',
          'rel/run',
        ],
        TRAIN_OPTIONS,
      ),
    );
    expect(s.train).toMatchObject({ lr: 0.002, steps: 30, epochs: null, batchSize: 4, betas: [0.5, 0.9] });
    expect(s.backend).toBe('onnx');
    expect(s.model).toMatchObject({ convDim: 64, loss: { cosine: 'released', mse: 'relative' }, jitter: { scale: 5, prob: 0.5 } });
    expect(s.output.dir).toBe(join(process.cwd(), 'rel', 'run'));
  });

  it('rejects epochs and steps together, a missing dataset, and values out of range', async () => {
    expect(() => resolveTrainSettings({ data: { roots: ['/d'] }, train: { epochs: 1, steps: 2 } })).toThrow(/not both/);
    expect(() => resolveTrainSettings({})).toThrow(/no dataset/);
    const file = join(tmp.dir, 'c.yaml');
    await writeFile(file, 'thresholds:\n  imageQuantile: 1.5\n');
    await expect(readTrainConfigFile(file)).rejects.toThrow(/thresholds\.imageQuantile: expected a number >= 0\.5 and <= 1, got 1\.5/);
    await writeFile(file, 'model:\n  inputSize: [224]\n');
    await expect(readTrainConfigFile(file)).rejects.toThrow(/model\.inputSize: expected a multiple of 16 or \[height, width\], got \[224\]/);
    await writeFile(file, 'data:\n  augmentation: mvtek\n');
    await expect(readTrainConfigFile(file)).rejects.toThrow(/data\.augmentation: unknown value "mvtek"; did you mean "mvtec"\?/);
  });
});
