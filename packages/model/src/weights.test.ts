import { FIXTURES } from '@unias/test-fixtures';
import { describe, expect, it } from 'vitest';
import { PRESETS, bindWeights, buildInferenceGraph, readWeightFiles } from './index.js';

describe('weights by name', () => {
  it('binds the official backbone and head files to the small pipeline (every parameter, exact values)', async () => {
    const graph = buildInferenceGraph(PRESETS.small);
    const weights = await readWeightFiles([FIXTURES.backboneTaps, FIXTURES.head]);
    const params = bindWeights(graph, weights);
    expect(params.size).toBe(graph.params.size);
    const w = 'sem_seg_head.predictor.out_agg.3.3.weight';
    expect(params.get(w)!.data).toEqual(weights.get(w)!.data);
  });

  it('names every missing tensor (the head file alone lacks the backbone)', async () => {
    const graph = buildInferenceGraph(PRESETS.small);
    const head = await readWeightFiles([FIXTURES.head]);
    expect(() => bindWeights(graph, head)).toThrow(/weights do not fit the model: \d+ missing: backbone\._conv_stem\.weight/);
    expect(() => bindWeights(graph, head, { allowMissing: (n) => n.startsWith('backbone.') })).not.toThrow();
  });

  it('refuses a tensor that two files both define', async () => {
    await expect(readWeightFiles([FIXTURES.head, FIXTURES.head])).rejects.toThrow(/is in both .*unias-small\.head\.safetensors and/);
  });

  it('names misshaped tensors (small weights into the paper head)', async () => {
    const graph = buildInferenceGraph(PRESETS.paper);
    const weights = await readWeightFiles([FIXTURES.backboneTaps, FIXTURES.head]);
    expect(() => bindWeights(graph, weights)).toThrow(
      /258 misshaped: sem_seg_head\.pixel_decoder\.input_proj\.weight \(file \[64,320,1,1\], model \[256,320,1,1\]\)/,
    );
  });
});
