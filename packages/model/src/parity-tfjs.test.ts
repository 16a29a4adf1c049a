/**
 * Parity with the official code on tfjs-wasm (one thread; tfjs-cpu takes ~25 s per forward of the
 * small head, so it is left to benchmarks): the head on the fixture's features and the whole
 * pipeline from the fixture's image, one forward each, with a tensor-leak check.
 */
import { type Graph, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { createTfjsBackend, type TfjsBackend } from '@unias/backend-tfjs';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TAPS, loadFixture, type Fixture } from '../test/fixture-data.js';
import { PRESETS, buildHeadGraph, buildInferenceGraph, resolveConfig } from './index.js';

let fx: Fixture;
let backend: TfjsBackend;
beforeAll(async () => {
  fx = await loadFixture();
  backend = await createTfjsBackend({ prefer: ['tfjs-wasm'] });
});

async function runOnce(graph: Graph, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const before = tf.memory().numTensors;
  const s = await backend.prepare(graph, { params: fx.params(graph) });
  try {
    return await s.run(feeds);
  } finally {
    await s.dispose();
    expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
  }
}

describe('parity on tfjs-wasm', () => {
  it('head on the fixture features: recon and map within 1e-4, loss (released sign) within 1e-5', async () => {
    const graph = buildHeadGraph(resolveConfig({ ...PRESETS.small, loss: { weight: 10, cosine: 'released' } }));
    const out = await runOnce(graph, fx.featureFeeds());
    const recon = [0, 1, 2, 3].map((i) => maxRelError(out[`recon.${i}`]!.data, fx.tensor(`output.recon.${i}`).data));
    const map = maxRelError(out.anomaly_map!.data, fx.tensor('output.pred').data);
    const expected = fx.tensor('output.loss').data[0]!;
    const loss = Math.abs(out.loss!.data[0]! - expected) / expected;
    console.log(
      `${backend.name} head parity: recon ${recon.map((e) => e.toExponential(2)).join(' ')}, map ${map.toExponential(2)}, loss ${loss.toExponential(2)}`,
    );
    recon.forEach((e, i) => expect(e, `recon ${i}`).toBeLessThan(1e-4));
    expect(map).toBeLessThan(1e-4);
    expect(loss).toBeLessThan(1e-5);
  });

  it('whole pipeline from the normalised image: targets, recon and map within 1e-4', async () => {
    const out = await runOnce(buildInferenceGraph(PRESETS.small, { input: 'normalized', debugOutputs: true }), { image: fx.tensor('input.image') });
    const targets = TAPS.map((t) => maxRelError(out[`target.${t}`]!.data, fx.tensor(`backbone.target.${t}`).data));
    const recon = [0, 1, 2, 3].map((i) => maxRelError(out[`recon.${i}`]!.data, fx.tensor(`output.recon.${i}`).data));
    const map = maxRelError(out.anomaly_map!.data, fx.tensor('output.pred').data);
    console.log(
      `${backend.name} pipeline parity: targets ${targets.map((e) => e.toExponential(2)).join(' ')}, recon ${recon.map((e) => e.toExponential(2)).join(' ')}, map ${map.toExponential(2)}`,
    );
    for (const e of [...targets, ...recon, map]) expect(e).toBeLessThan(1e-4);
  });
});
