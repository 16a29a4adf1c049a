import { FIXTURES } from '@unias/test-fixtures';
import { countParams, createGraph, samePadding } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { efficientNetPlan, roundFilters, EFFICIENTNET_VARIANTS } from './efficientnet.js';
import { getBackbone } from './registry.js';
import { buildBackboneGraph } from './weights/check.js';
import { convIn, paramShapes, readJson, tapShapes } from './testing/helpers.js';

interface StateDictShapes {
  paper: { trainable_params: { backbone: number }; state_dict: Record<string, number[]> };
}

const isStat = (name: string) => name.endsWith('running_mean') || name.endsWith('running_var');

describe('EfficientNet-B4 key layout', () => {
  const shapes = readJson<StateDictShapes>(FIXTURES.stateDictShapes).paper;
  const { full } = buildBackboneGraph(getBackbone('efficientnet-b4'), { scope: 'backbone', size: 224 });

  it('declares exactly the official backbone.* keys and shapes (paper preset, minus num_batches_tracked)', () => {
    const official = Object.entries(shapes.state_dict).filter(([k]) => k.startsWith('backbone.') && !k.endsWith('num_batches_tracked'));
    expect(official.length).toBeGreaterThan(600);
    const ours = paramShapes(full);
    expect([...ours.keys()].sort()).toEqual(official.map(([k]) => k).sort());
    for (const [k, shape] of official) expect(ours.get(k), k).toEqual(shape);
  });

  it('counts 19,341,616 trainable values: weights, biases and BN affine, classifier included, running stats not', () => {
    const affine = countParams(full, (p) => !isStat(p.name));
    expect(affine).toBe(shapes.trainable_params.backbone);
    expect(affine).toBe(19_341_616);
    // Frozen all the same: none of it is trainable in the graph.
    expect(countParams(full, (p) => p.trainable)).toBe(0);
  });
});

describe('EfficientNet B0..B3', () => {
  // Parameter counts torchvision documents for its efficientnet_b0..b3 (same layers, other names).
  const torchvision: Record<string, number> = { b0: 5_288_548, b1: 7_794_184, b2: 9_109_994, b3: 12_233_232 };
  for (const [name, count] of Object.entries(torchvision)) {
    it(`efficientnet-${name} has ${count.toLocaleString('en')} parameters (weights, biases, BN affine)`, () => {
      const { full } = buildBackboneGraph(getBackbone(`efficientnet-${name}`), { size: 64 });
      expect(countParams(full, (p) => !isStat(p.name))).toBe(count);
    });
  }

  it('rounds filters as efficientnet_pytorch does (nearest multiple of 8, +8 below 90%)', () => {
    expect(roundFilters(32, 1.4)).toBe(48); // 44.8 -> 48
    expect(roundFilters(112, 1.4)).toBe(160); // 156.8 -> 160
    expect(roundFilters(40, 1.4)).toBe(56);
    expect(roundFilters(1280, 1.1)).toBe(1408);
    expect(roundFilters(16, 1.1)).toBe(16); // 17.6 -> 16 (>= 90%)
    expect(roundFilters(24, 1.2)).toBe(32); // 28.8 -> 32
    expect(roundFilters(8, 0.5)).toBe(8); // never below the divisor
    const b4 = efficientNetPlan(EFFICIENTNET_VARIANTS.find((v) => v.name === 'b4')!);
    expect(b4.stages.map((s) => s.repeats)).toEqual([2, 4, 4, 6, 6, 8, 2]);
    expect(b4.stages.map((s) => s.lastBlock)).toEqual([1, 5, 9, 15, 21, 29, 31]);
  });
});

describe('EfficientNet taps and static padding', () => {
  const b4 = getBackbone('efficientnet-b4');

  it('res1..res4 of B4 are 24/32/56/160 channels at strides 2/4/8/16, at 224 and at 160', () => {
    for (const size of [224, 160]) {
      const shapes = tapShapes(b4, size);
      expect(shapes).toEqual({
        res1: [1, 24, size / 2, size / 2],
        res2: [1, 32, size / 4, size / 4],
        res3: [1, 56, size / 8, size / 8],
        res4: [1, 160, size / 16, size / 16],
      });
    }
  });

  it('every tap of every variant has the channels and stride it declares (224 and 160)', () => {
    for (const v of EFFICIENTNET_VARIANTS) {
      const bb = getBackbone(`efficientnet-${v.name}`);
      for (const size of [224, 160]) {
        const shapes = tapShapes(
          bb,
          size,
          bb.taps.map((t) => t.name),
        );
        for (const t of bb.taps) expect(shapes[t.name], `${bb.id} ${t.name} @${size}`).toEqual([1, t.channels, size / t.stride, size / t.stride]);
      }
    }
  });

  it('pads for the native 380 whatever the input: at 224 the first stage-3 depthwise conv pads (2,2), not (1,2)', () => {
    const { full } = buildBackboneGraph(b4, { size: 224 });
    // Stage 3 starts at block 6 (stages 1 and 2 have 2 + 4 blocks); its input is 95 at 380, 56 at 224.
    expect(convIn(full, '_blocks.6._depthwise_conv').attrs.pads).toEqual([2, 2, 2, 2]);
    expect(samePadding(56, 5, 2)).toEqual([1, 2]); // what dynamic "same" padding would do at 224
    expect(convIn(full, '_conv_stem').attrs.pads).toEqual([0, 0, 1, 1]);
    expect(convIn(full, '_blocks.2._depthwise_conv').attrs.pads).toEqual([0, 0, 1, 1]); // 3x3 s2 at 190
    expect(convIn(full, '_blocks.22._depthwise_conv').attrs.pads).toEqual([1, 1, 2, 2]); // 5x5 s2 at 24
    expect(convIn(full, '_blocks.3._depthwise_conv').attrs.pads).toEqual([1, 1, 1, 1]); // 3x3 s1
  });

  it('prunes to the taps: the head and classifier drop out, everything up to _blocks.21 stays', () => {
    const { pruned } = buildBackboneGraph(b4, { size: 224 });
    const names = [...pruned.params.keys()];
    expect(names.some((n) => n.startsWith('_fc.') || n.startsWith('_conv_head') || n.startsWith('_bn1.'))).toBe(false);
    expect(names.some((n) => n.startsWith('_blocks.22.'))).toBe(false);
    expect(names).toContain('_blocks.21._bn2.running_var');
    expect(names).toContain('_conv_stem.weight');
  });

  it('an unknown tap is an error listing the valid ones', () => {
    const b = createGraph();
    const image = b.input('image', [1, 3, 64, 64]);
    expect(() => b4.build(b, image, { taps: ['res1', 'res9'] })).toThrow(/unknown tap "res9"; valid taps: res1, res2, res3, res4, stem, stage1/);
  });

  it('refuses an image that is not [N, 3, H, W]', () => {
    const b = createGraph();
    expect(() => b4.build(b, b.input('image', [1, 1, 64, 64]))).toThrow(/efficientnet-b4.*\[N, 3, H, W\]/);
  });
});
