import { createGraph, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, type Fixture } from '../test/fixture-data.js';
import { anomalyMap } from './index.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await loadFixture();
});

const TARGETS = ['res4', 'res3', 'res2', 'res1'];

function mapGraph(postGaussian: boolean, levels = 4, mapLevels?: number[]) {
  const b = createGraph();
  const recons = [0, 1, 2, 3].slice(0, levels).map((i) => b.input(`recon.${i}`, fx.tensor(`output.recon.${i}`).shape));
  const targets = TARGETS.slice(0, levels).map((t) => b.input(`target.${t}`, fx.tensor(`backbone.target.${t}`).shape));
  const am = anomalyMap(b, recons, targets, { outputSize: [224, 224], postGaussian, ...(mapLevels ? { mapLevels } : {}) });
  b.output('map', am.map);
  b.output('score', am.score);
  am.levels.forEach((m, i) => b.output(`level.${i}`, m));
  const feeds: Record<string, TensorData> = {};
  for (let i = 0; i < levels; i++) {
    feeds[`recon.${i}`] = fx.tensor(`output.recon.${i}`);
    feeds[`target.${TARGETS[i]}`] = fx.tensor(`backbone.target.${TARGETS[i]}`);
  }
  return evaluateReference(b.build(), feeds);
}

describe('anomaly map', () => {
  it('from the official reconstructions: the official final map within 1e-6 (float64), score = its max', () => {
    const out = mapGraph(true);
    const pred = fx.tensor('output.pred');
    expect(out.map!.shape).toEqual([1, 1, 224, 224]);
    const err = maxRelError(out.map!.data, pred.data);
    console.log(`anomaly map from official recon, float64: ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-6);
    expect(out.score!.shape).toEqual([1]);
    expect(out.score!.data[0]).toBeCloseTo(Math.max(...pred.data), 6);
  });

  it('mapLevels: the product of the chosen levels only (each upsampled as the full map is)', () => {
    const all = mapGraph(true);
    const some = mapGraph(true, 4, [0, 2]);
    // the map before the final x2 upsampling is the product of the level maps; upsampling is
    // linear, so compare at the level resolution through a direct product
    const b = createGraph();
    const l0 = b.input('l0', all['level.0']!.shape);
    const l2 = b.input('l2', all['level.2']!.shape);
    b.output('map', b.resizeBilinear(b.mul(l0, l2), [224, 224], true));
    const direct = evaluateReference(b.build(), { l0: all['level.0']!, l2: all['level.2']! });
    expect(maxRelError(some.map!.data, direct.map!.data)).toBeLessThan(1e-9);
    expect(maxRelError(some.map!.data, all.map!.data)).toBeGreaterThan(1e-2);
  });

  it('post-Gaussian off gives another map; one level gives a map from the coarsest level alone', () => {
    const off = mapGraph(false);
    expect(maxRelError(off.map!.data, fx.tensor('output.pred').data)).toBeGreaterThan(1e-2);
    const one = mapGraph(true, 1);
    expect(one.map!.shape).toEqual([1, 1, 224, 224]);
    // blurred 1 - cos of a 14x14 level upsampled: smooth and in [0, 2]
    expect(Math.min(...one.map!.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...one.map!.data)).toBeLessThanOrEqual(2);
  });
});
