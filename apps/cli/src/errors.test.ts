/**
 * Every user mistake ends with a one-line message and a non-zero exit code, never a stack trace
 * (unless --debug). Each case runs `main([...])` in-process with stdout/stderr captured.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES } from '@unias/test-fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir, tinyDataset } from './testing/helpers.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;

beforeAll(async () => {
  tmp = await tempDir('errors');
  data = await tinyDataset(join(tmp.dir, 'data'));
  await writeFile(join(tmp.dir, 'bad-key.yaml'), 'preset: cpu\nmodel:\n  convDm: 64\n');
  await writeFile(join(tmp.dir, 'bad-type.yaml'), 'train:\n  lr: fast\n');
  await writeFile(join(tmp.dir, 'bad-top.json'), '{"trian": {"lr": 0.1}}');
  await writeFile(join(tmp.dir, 'broken.yaml'), 'train: [unclosed\n');
  await writeFile(join(tmp.dir, 'not-weights.safetensors'), 'hello, not a safetensors file');
  await writeFile(join(tmp.dir, 'image.txt'), 'text');
});
afterAll(async () => tmp.cleanup());

interface Case {
  readonly name: string;
  readonly argv: () => string[];
  readonly message: RegExp;
  readonly code?: number;
}

const CASES: Case[] = [
  { name: 'unknown command', argv: () => ['trian'], message: /unknown command "trian"/, code: 2 },
  { name: 'unknown option, with the closest one', argv: () => ['train', '--lrr', '0.1'], message: /unknown option --lrr; did you mean "--lr"\?/, code: 2 },
  { name: 'non-numeric flag', argv: () => ['train', '--data', data, '--steps', 'ten'], message: /--steps must be a number, got "ten"/, code: 2 },
  {
    name: 'dataset folder that does not exist',
    argv: () => ['train', '--data', join(tmp.dir, 'nope'), '--steps', '1'],
    message: /dataset .*nope: no such folder/,
  },
  {
    name: 'a file given as the dataset folder',
    argv: () => ['train', '--data', join(tmp.dir, 'image.txt'), '--steps', '1'],
    message: /dataset .*image\.txt: not a folder/,
  },
  {
    name: 'unknown class',
    argv: () => ['train', '--data', data, '--classes', 'washr', '--steps', '1'],
    message: /class "washr" is in none of the dataset roots; did you mean "washer"\?/,
  },
  {
    name: 'wrong preset name',
    argv: () => ['train', '--data', data, '--preset', 'papr'],
    message: /--preset: preset: unknown value "papr"; did you mean "paper"\?/,
  },
  { name: 'unknown backbone', argv: () => ['train', '--data', data, '--backbone', 'resnet99', '--steps', '1'], message: /backbone.*resnet99/ },
  {
    name: 'bad input size',
    argv: () => ['train', '--data', data, '--input-size', '100', '--steps', '1'],
    message: /inputSize: height 100 must be a positive multiple of 16/,
  },
  { name: 'config file missing', argv: () => ['train', '--config', join(tmp.dir, 'missing.yaml')], message: /config file .*missing\.yaml: no such file/ },
  {
    name: 'config key misspelt',
    argv: () => ['train', '--config', join(tmp.dir, 'bad-key.yaml')],
    message: /bad-key\.yaml: unknown key "model\.convDm"; did you mean "convDim"\?/,
  },
  {
    name: 'config top-level key misspelt',
    argv: () => ['train', '--config', join(tmp.dir, 'bad-top.json')],
    message: /bad-top\.json: unknown key "trian"; did you mean "train"\?/,
  },
  {
    name: 'config value of the wrong type',
    argv: () => ['train', '--config', join(tmp.dir, 'bad-type.yaml')],
    message: /bad-type\.yaml: train\.lr: expected a number > 0, got "fast"/,
  },
  { name: 'config file that is not YAML', argv: () => ['train', '--config', join(tmp.dir, 'broken.yaml')], message: /broken\.yaml: not valid YAML/ },
  { name: '--set of an unknown key', argv: () => ['train', '--data', data, '--set', 'train.learningRate=0.1'], message: /unknown key "train\.learningRate"/ },
  {
    name: 'batch larger than the training set',
    argv: () => ['train', '--data', data, '--batch', '64', '--steps', '1', '--out', join(tmp.dir, 'run-batch')],
    message: /batch size 64 is larger than the 16 training images/,
  },
  {
    name: 'backbone without bundled weights',
    argv: () => ['train', '--data', data, '--preset', 'small', '--steps', '1', '--out', join(tmp.dir, 'run-b4')],
    message: /backbone "efficientnet-b4" has no bundled weights/,
  },
  {
    name: 'weights that do not fit the preset (train)',
    argv: () => ['train', '--data', data, '--weights', FIXTURES.head, '--steps', '1', '--out', join(tmp.dir, 'run-w')],
    message: /weights .*misshaped/,
  },
  {
    name: 'weights file that does not exist',
    argv: () => ['train', '--data', data, '--weights', join(tmp.dir, 'w.safetensors'), '--steps', '1', '--out', join(tmp.dir, 'run-w2')],
    message: /weights file .*w\.safetensors: no such file/,
  },
  {
    name: 'weights file that is not safetensors',
    argv: () => ['train', '--data', data, '--weights', join(tmp.dir, 'not-weights.safetensors'), '--steps', '1', '--out', join(tmp.dir, 'run-w3')],
    message: /weights file .*not-weights\.safetensors/,
  },
  {
    name: 'weights that do not fit the preset (export)',
    argv: () => [
      'export',
      '--preset',
      'paper',
      '--weights',
      FIXTURES.backboneTaps,
      '--weights',
      FIXTURES.head,
      '--format',
      'onnx',
      '--out',
      join(tmp.dir, 'x.onnx'),
      '--quiet',
    ],
    message: /weights do not fit the model \(preset paper.*misshaped/,
  },
  {
    name: 'export format misspelt',
    argv: () => ['export', '--model', tmp.dir, '--format', 'onnxx', '--out', 'x'],
    message: /--format must be one of onnx, triton, safetensors, got "onnxx"; did you mean "onnx"\?/,
    code: 2,
  },
  { name: 'export without a model', argv: () => ['export', '--format', 'onnx', '--out', 'x'], message: /give --model/, code: 2 },
  {
    name: 'export of a folder without a model',
    argv: () => ['export', '--model', tmp.dir, '--format', 'onnx', '--out', join(tmp.dir, 'y.onnx')],
    message: /no UniAS model here/,
  },
  {
    name: 'eval of a model that does not exist',
    argv: () => ['eval', '--model', join(tmp.dir, 'nope'), '--data', data],
    message: /model .*nope: no such file or folder/,
  },
  { name: 'eval without --model', argv: () => ['eval', '--data', data], message: /--model is required/, code: 2 },
  {
    name: 'unknown backend',
    argv: () => ['eval', '--model', tmp.dir, '--data', data, '--backend', 'tfsj'],
    message: /--backend must be one of onnx, tfjs, got "tfsj"; did you mean "tfjs"\?/,
    code: 2,
  },
  { name: 'predict on a missing image', argv: () => ['predict', '--model', tmp.dir, join(tmp.dir, 'nope.png')], message: /nope\.png: no such file or folder/ },
  {
    name: 'predict on a file that is not an image',
    argv: () => ['predict', '--model', tmp.dir, join(tmp.dir, 'image.txt')],
    message: /image\.txt: not an image file/,
  },
  { name: 'metrics of a missing file', argv: () => ['metrics', '--input', join(tmp.dir, 'maps.safetensors')], message: /maps\.safetensors: no such file/ },
  {
    name: 'metrics of a file that is not safetensors',
    argv: () => ['metrics', '--input', join(tmp.dir, 'not-weights.safetensors')],
    message: /not-weights\.safetensors/,
  },
  { name: 'serve without a model', argv: () => ['serve'], message: /give at least one --model/, code: 2 },
];

describe('user mistakes: one line, non-zero exit, no stack trace', () => {
  it.each(CASES)('$name', async (c) => {
    const r = await runCli(c.argv());
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('run `unias --help`'));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^unias: /);
    expect(lines[0]).not.toMatch(/internal error/);
    expect(lines[0]).toMatch(c.message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(c.code ?? 1);
  });

  it('--debug shows the stack trace', async () => {
    const r = await runCli(['train', '--data', join(tmp.dir, 'nope'), '--steps', '1', '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such folder/);
    expect(r.stderr).toMatch(/^\s+at /m);
  });

  it('no command prints the help and exits 2; --help exits 0', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/usage: unias <command>/);
    for (const c of ['train', 'eval', 'predict', 'export', 'metrics', 'serve', 'demo']) {
      const r = await runCli([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(new RegExp(`usage: unias ${c}`));
    }
  });
});
