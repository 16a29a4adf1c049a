import { createGraph, type Sym } from '@unias/graph';
import { evaluateReference } from '@unias/graph/testing';
import { describe, expect, it } from 'vitest';
import { IMAGENET_NORMALIZATION, pickTaps, resolveTaps, type Backbone } from './backbone.js';
import { frozenConv } from './layers.js';
import { BUILTIN_BACKBONES, createBackboneRegistry, getBackbone, listBackbones, registerBackbone } from './registry.js';
import { buildBackboneGraph, checkBackboneWeights } from './weights/check.js';

/** A user backbone: one 2x2 stride-2 conv per tap. */
const tiny: Backbone = {
  id: 'tiny-test',
  description: 'two strided convs',
  taps: [
    { name: 'res1', channels: 4, stride: 2, description: 'c1' },
    { name: 'res2', channels: 8, stride: 4, description: 'c2' },
  ],
  defaultTaps: ['res1', 'res2'],
  inputNormalization: IMAGENET_NORMALIZATION,
  weightLayout: 'custom',
  build(b, image, options = {}) {
    const taps = resolveTaps(tiny, options.taps);
    const c1 = frozenConv(b, 'c1', image, { out: 4, kernel: 2, stride: 2 });
    const c2 = frozenConv(b, 'c2', c1, { out: 8, kernel: 2, stride: 2 });
    return pickTaps(
      tiny,
      new Map<string, Sym>([
        ['res1', c1],
        ['res2', c2],
      ]),
      taps,
    );
  },
};

describe('backbone registry', () => {
  it('lists the built-in backbones by id', () => {
    expect(listBackbones().map((b) => b.id)).toEqual([
      'efficientnet-b0',
      'efficientnet-b1',
      'efficientnet-b2',
      'efficientnet-b3',
      'efficientnet-b4',
      'resnet18',
      'resnet34',
      'resnet50',
      'wide_resnet50_2',
      'mobilenet_v2',
    ]);
    for (const bb of BUILTIN_BACKBONES) {
      expect(bb.defaultTaps).toEqual(['res1', 'res2', 'res3', 'res4']);
      expect(bb.defaultTaps.map((t) => bb.taps.find((s) => s.name === t)!.stride)).toEqual([2, 4, 8, 16]);
    }
  });

  it('an unknown id is an error listing the available ones', () => {
    expect(() => getBackbone('efficientnet-b9')).toThrow(/unknown backbone "efficientnet-b9"; available: efficientnet-b0, .*mobilenet_v2/);
  });

  it('registers a user backbone, refuses a taken id unless replacing, and checks its taps', () => {
    const reg = createBackboneRegistry(BUILTIN_BACKBONES);
    reg.register(tiny);
    expect(reg.get('tiny-test')).toBe(tiny);
    expect(() => reg.register(tiny)).toThrow(/"tiny-test" is already registered/);
    expect(() => reg.register({ ...tiny }, { replace: true })).not.toThrow();
    expect(() => reg.register({ ...tiny, id: 'bad', defaultTaps: ['res1', 'res7'] })).toThrow(/default taps res7 are not among its taps/);
    expect(() => reg.register({ ...tiny, id: 'dup', taps: [...tiny.taps, tiny.taps[0]!] })).toThrow(/tap "res1" is listed twice/);
    expect(() => reg.register(getBackbone('resnet18'))).toThrow(/already registered/);
  });

  it('a backbone registered in the default registry is found by id and works with the helpers', () => {
    registerBackbone(tiny, { replace: true });
    const bb = getBackbone('tiny-test');
    const { full, pruned } = buildBackboneGraph(bb, { size: 8, taps: ['res1'] });
    expect(full.outputs.get('res1')!.shape).toEqual([1, 4, 4, 4]);
    expect([...pruned.params.keys()]).toEqual(['c1.weight']);
    const w = new Map([['c1.weight', { dtype: 'float32' as const, shape: [4, 3, 2, 2], data: new Float32Array(48).fill(1) }]]);
    expect(() => checkBackboneWeights(bb, w, { taps: ['res1'] })).not.toThrow();
    expect(() => checkBackboneWeights(bb, w)).toThrow(/missing: c2\.weight/);
    const image = { dtype: 'float32' as const, shape: [1, 3, 8, 8], data: new Float32Array(192).fill(0.5) };
    const out = evaluateReference(pruned, { image }, { params: w });
    expect(out['res1']!.data[0]).toBeCloseTo(6, 12); // 12 inputs of 0.5 times weight 1
  });

  it("builds under the caller's scope, every parameter frozen", () => {
    const b = createGraph();
    const image = b.input('image', [1, 3, 64, 64]);
    b.within('backbone', () => getBackbone('mobilenet_v2').build(b, image));
    const g = b.build();
    expect(g.params.has('backbone.Conv1.weight')).toBe(true);
    expect(g.params.has('backbone.Logits.bias')).toBe(true);
    expect([...g.params.values()].every((p) => p.name.startsWith('backbone.') && !p.trainable)).toBe(true);
  });
});
