import { createGraph } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { STATE_DICT_SHAPES } from '../test/fixture-data.js';
import { PRESETS, buildInferenceGraph, countModelFlops, resolveConfig, stateDictListing } from './index.js';

describe('official state_dict layout', () => {
  for (const preset of ['paper', 'small'] as const) {
    it(`${preset}: every key and shape of the official state_dict (params + num_batches_tracked), and the trainable counts`, () => {
      const listing = stateDictListing(PRESETS[preset]);
      const mine = new Map<string, number[]>(listing.params.map(([k, s]) => [k, [...s]]));
      for (const k of listing.buffers) mine.set(k, []);
      expect(mine.size).toBe(1030);
      expect(mine).toEqual(new Map(Object.entries(STATE_DICT_SHAPES[preset].state_dict)));
      expect(listing.buffers.length).toBe(96);
      expect(listing.trainable).toEqual({
        backbone: STATE_DICT_SHAPES[preset].trainable_params['backbone'],
        head: STATE_DICT_SHAPES[preset].trainable_params['sem_seg_head'],
      });
    });
  }

  it('the head takes its widths from the backbone taps (cpu preset on MobileNetV2: 16/24/32/96)', () => {
    const listing = new Map(stateDictListing(PRESETS.cpu).params.map(([k, s]) => [k, [...s]]));
    expect(listing.get('sem_seg_head.pixel_decoder.adapter_1.weight')).toEqual([32, 32, 1, 1]);
    expect(listing.get('sem_seg_head.pixel_decoder.input_proj.weight')).toEqual([32, 192, 1, 1]);
    expect(listing.get('sem_seg_head.predictor.out_agg.0.3.weight')).toEqual([96, 16, 3, 3]);
    expect(listing.get('sem_seg_head.predictor.out_agg.3.3.weight')).toEqual([16, 16, 3, 3]);
    expect(stateDictListing(PRESETS.cpu).buffers).toEqual([]); // Keras layout: no num_batches_tracked
  });
});

describe('compute cost counted from the graph', () => {
  it('counts 2 x multiply-adds of conv and matmul (closed form)', () => {
    const b = createGraph();
    const x = b.input('x', [2, 3, 8, 8]);
    const y = b.conv2d(x, b.param('w', [4, 3, 3, 3], { kind: 'zeros' }), null, { padding: 1 });
    const z = b.matmul(b.reshape(y, [0, 4, 64]), b.param('m', [64, 5], { kind: 'zeros' }));
    b.output('z', b.relu(z));
    const f = countModelFlops(b.build());
    expect(f.total).toBe(2 * (2 * 4 * 64 * 27) + 2 * (2 * 4 * 5 * 64));
  });

  it('paper head: 80.9 GFLOP per image, as hooks on the official model count', () => {
    const f = countModelFlops(buildInferenceGraph(PRESETS.paper));
    const head = (f.byScope['sem_seg_head.pixel_decoder'] ?? 0) + (f.byScope['sem_seg_head.predictor'] ?? 0);
    console.log(
      `GFLOP per 224x224 image: ${Object.entries(f.byScope)
        .map(([k, v]) => `${k} ${(v / 1e9).toFixed(3)}`)
        .join(', ')}; total ${(f.total / 1e9).toFixed(2)}`,
    );
    expect(head / 1e9).toBeCloseTo(80.9, 1);
    for (const preset of ['small', 'cpu'] as const) {
      const g = countModelFlops(buildInferenceGraph(PRESETS[preset]));
      console.log(`${preset}: ${(g.total / 1e9).toFixed(3)} GFLOP per image (${resolveConfig(PRESETS[preset]).backbone.id})`);
      expect(g.total).toBeLessThan(f.total / 10);
    }
  });
});
