import { describe, expect, it } from 'vitest';
import { PRESETS, PRESET_NAMES, presetConfig, resolveConfig, type ModelConfig } from './index.js';

const small = PRESETS.small;
const bad = (over: Partial<ModelConfig> | Record<string, unknown>) => () => resolveConfig({ ...small, ...over } as ModelConfig);

describe('model config', () => {
  it('every preset resolves; defaults are the official settings', () => {
    for (const name of PRESET_NAMES) expect(() => resolveConfig(PRESETS[name]), name).not.toThrow();
    const c = resolveConfig({ backbone: 'efficientnet-b4', convDim: 64, hidden: 64, maskDim: 32, dimFeedforward: 128 });
    expect(c.inputSize).toEqual([224, 224]);
    expect(c.grid).toEqual([14, 14]);
    expect(c.taps.map((t) => [t.name, t.channels, t.stride])).toEqual([
      ['res1', 24, 2],
      ['res2', 32, 4],
      ['res3', 56, 8],
      ['res4', 160, 16],
    ]);
    expect([c.numHeads, c.encoderLayers, c.adaptor, c.attention, c.neighbourSize, c.postGaussian, c.dropout]).toEqual([
      4,
      3,
      'mgg-cnn',
      'spatial-channel',
      7,
      true,
      0.1,
    ]);
    expect(c.jitter).toEqual({ scale: 20, prob: 0.5 });
    expect(c.loss).toEqual({ weight: 10, cosine: 'distance', mse: 'raw' });
  });

  it('takes tap channels from the chosen backbone and keeps the coarsest taps for fewer levels', () => {
    const cpu = resolveConfig(PRESETS.cpu);
    expect(cpu.taps.map((t) => t.channels)).toEqual([16, 24, 32, 96]);
    const two = resolveConfig({ ...small, levels: 2, inputSize: [256, 192] });
    expect(two.taps.map((t) => t.name)).toEqual(['res3', 'res4']);
    expect(two.grid).toEqual([16, 12]);
    expect(resolveConfig(PRESETS['uniad-baseline']).taps.map((t) => t.name)).toEqual(['res4']);
  });

  it('refuses bad settings with an error naming the field', () => {
    expect(bad({ backbone: 'efficientnet-b9' })).toThrow(/model config: backbone: unknown backbone "efficientnet-b9"; available: .*efficientnet-b4/);
    expect(bad({ inputSize: 230 })).toThrow(/model config: inputSize: height 230 must be a positive multiple of 16/);
    expect(bad({ inputSize: [224, 100] })).toThrow(/inputSize: width 100/);
    expect(bad({ adaptor: 'mgg' })).toThrow(/model config: adaptor: unknown adaptor "mgg"; known: mgg-cnn, mgg-cnn-light/);
    expect(bad({ attention: 'channel' })).toThrow(/attention: unknown attention "channel"/);
    expect(bad({ levels: 5 })).toThrow(/levels: must be an integer in 1..4, got 5/);
    expect(bad({ taps: ['res1', 'res9'] })).toThrow(/taps: backbone "efficientnet-b4" has no tap "res9"; valid taps: res1/);
    expect(bad({ taps: ['res1', 'res3'] })).toThrow(/taps: each tap must have twice the stride/);
    expect(bad({ convDim: 48 })).toThrow(/convDim: must be a multiple of 32/);
    expect(bad({ hidden: 0 })).toThrow(/hidden: must be a positive integer, got 0/);
    expect(bad({ neighbourSize: 6 })).toThrow(/neighbourSize: must be 0 \(no mask\) or an odd positive integer, got 6/);
    expect(bad({ inputSize: 112, attention: 'spatial' })).toThrow(/neighbourSize: a 7x7 mask blocks every key of the 7x7 query grid/);
    expect(bad({ inputSize: 208 })).toThrow(/inputSize: the channel branch attends over 13x13 = 169 positions, not divisible by 4 heads/);
    expect(() => resolveConfig({ ...small, inputSize: 208, attention: 'spatial' })).not.toThrow();
    expect(bad({ dropout: 1 })).toThrow(/dropout: must be in \[0, 1\)/);
    expect(bad({ loss: { cosine: 'plus' } })).toThrow(/loss.cosine: must be "distance" or "released"/);
    expect(bad({ loss: { weight: -1 } })).toThrow(/loss.weight: must be a positive number/);
    expect(bad({ loss: { mse: 'l1' } })).toThrow(/loss.mse: must be one of "raw", "relative", "none", got "l1"/);
    expect(() => presetConfig('huge' as never)).toThrow(/unknown preset "huge"; known: paper, small, cpu/);
  });

  it('input ranges scale [0, 1] RGB as named; "backbone" keeps the backbone\'s own', () => {
    const cpu = presetConfig('cpu');
    expect(resolveConfig(cpu).inputNormalization).toEqual({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(resolveConfig({ ...cpu, inputRange: 'backbone' }).inputNormalization).toEqual({ mean: [0, 0, 0], std: [1, 1, 1] });
    const signed = resolveConfig({ ...cpu, inputRange: 'signed' }).inputNormalization;
    expect(signed.mean.map((m, i) => (0 - m) / signed.std[i]!)).toEqual([-1, -1, -1]);
    expect(signed.mean.map((m, i) => (1 - m) / signed.std[i]!)).toEqual([1, 1, 1]);
    expect(resolveConfig(small).inputNormalization).toEqual(resolveConfig({ ...small, inputRange: 'imagenet' }).inputNormalization);
    expect(() => resolveConfig({ ...cpu, inputRange: 'byte' as never })).toThrow(
      /inputRange: unknown input range "byte"; known: backbone, unit, signed, imagenet/,
    );
  });

  it('method knn: taps of any stride, the embedding grid, and checks naming the field', () => {
    const cpu = presetConfig('cpu');
    const k = resolveConfig({ ...cpu, method: 'knn', knn: { bankSize: 1000 } }).knn!;
    expect(k.taps.map((t) => t.name)).toEqual(['res2', 'res3', 'res4']);
    expect([k.grid, k.channels, k.poolSize, k.sigma]).toEqual([[32, 32], 24 + 32 + 96, 3, 4]);
    expect(resolveConfig({ ...cpu, method: 'knn', knn: { bankSize: 10, taps: ['res3', 'block_12_add'] } }).knn!.channels).toBe(128);
    expect(resolveConfig(cpu).knn).toBeNull();
    const bad = (knn: object) => () => resolveConfig({ ...cpu, method: 'knn', knn: knn as never });
    expect(() => resolveConfig({ ...cpu, method: 'knn' })).toThrow(/model config: knn: method "knn" needs knn settings/);
    expect(bad({ bankSize: 0 })).toThrow(/knn.bankSize: must be a positive integer/);
    expect(bad({ bankSize: 5, taps: ['res9'] })).toThrow(/knn.taps: backbone "mobilenet_v2" has no tap "res9"/);
    expect(bad({ bankSize: 5, stride: 6 })).toThrow(/knn.stride: the height 256 is not a multiple of the embedding stride 6/);
    expect(bad({ bankSize: 5, poolSize: 2 })).toThrow(/knn.poolSize: must be odd/);
    expect(bad({ bankSize: 5, sigma: 100 })).toThrow(/knn.sigma: 100 is too large for a 256x256 input/);
    expect(() => resolveConfig({ ...cpu, method: 'nn' as never })).toThrow(/method: unknown method "nn"; known: unias, knn/);
  });

  it('mapLevels: default all levels; a level outside the model or repeated is named', () => {
    const cpu = presetConfig('cpu');
    expect(resolveConfig(cpu).mapLevels).toEqual([0, 1, 2, 3]);
    expect(resolveConfig({ ...cpu, levels: 2 }).mapLevels).toEqual([0, 1]);
    expect(resolveConfig({ ...cpu, mapLevels: [0, 1] }).mapLevels).toEqual([0, 1]);
    expect(() => resolveConfig({ ...cpu, mapLevels: [4] })).toThrow(/mapLevels: level 4 is not one of 0..3/);
    expect(() => resolveConfig({ ...cpu, mapLevels: [1, 1] })).toThrow(/mapLevels: repeats a level/);
    expect(() => resolveConfig({ ...cpu, mapLevels: [] })).toThrow(/mapLevels: must be a non-empty list/);
  });
});
