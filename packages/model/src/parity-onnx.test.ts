/**
 * Parity with the official code's golden outputs (small preset, eval mode) on ONNX Runtime:
 * the head on the fixture's features, and the whole pipeline from the fixture's image.
 */
import { type Graph, type Session, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { createOnnxBackend, type OnnxBackend } from '@unias/backend-onnx';
import { IMAGENET_NORMALIZATION } from '@unias/backbones';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAPS, loadFixture, type Fixture } from '../test/fixture-data.js';
import { PRESETS, buildHeadGraph, buildInferenceGraph, resolveConfig } from './index.js';

let fx: Fixture;
let backend: OnnxBackend;
const sessions: Session[] = [];
beforeAll(async () => {
  fx = await loadFixture();
  backend = await createOnnxBackend();
});
afterAll(async () => {
  for (const s of sessions) await s.dispose();
});

async function run(graph: Graph, feeds: Record<string, TensorData>, dynamicBatch = false): Promise<Record<string, TensorData>> {
  const s = await backend.prepare(graph, { params: fx.params(graph), dynamicBatch });
  sessions.push(s);
  return s.run(feeds);
}

const released = resolveConfig({ ...PRESETS.small, loss: { weight: 10, cosine: 'released' } });

describe('head on the fixture features (ORT)', () => {
  it('reconstructions within 1e-4, final map within 1e-4, loss (released sign) within 1e-5', async () => {
    const out = await run(buildHeadGraph(released), fx.featureFeeds());
    const recon = [0, 1, 2, 3].map((i) => maxRelError(out[`recon.${i}`]!.data, fx.tensor(`output.recon.${i}`).data));
    const map = maxRelError(out.anomaly_map!.data, fx.tensor('output.pred').data);
    const expectedLoss = fx.tensor('output.loss').data[0]!;
    const loss = Math.abs(out.loss!.data[0]! - expectedLoss) / expectedLoss;
    console.log(`ORT head parity: recon ${recon.map((e) => e.toExponential(2)).join(' ')}, map ${map.toExponential(2)}, loss ${loss.toExponential(2)}`);
    recon.forEach((e, i) => expect(e, `recon ${i}`).toBeLessThan(1e-4));
    expect(map).toBeLessThan(1e-4);
    expect(loss).toBeLessThan(1e-5);
    expect(out.score!.data[0]).toBeCloseTo(Math.max(...fx.tensor('output.pred').data), 5);
  });
});

describe('whole pipeline from the image (ORT, EfficientNet-B4 with the fixture weights)', () => {
  it('normalised image in: targets (res3 included), reconstructions and final map within 1e-4', async () => {
    const out = await run(buildInferenceGraph(PRESETS.small, { input: 'normalized', debugOutputs: true }), { image: fx.tensor('input.image') });
    const targets = TAPS.map((t) => maxRelError(out[`target.${t}`]!.data, fx.tensor(`backbone.target.${t}`).data));
    const recon = [0, 1, 2, 3].map((i) => maxRelError(out[`recon.${i}`]!.data, fx.tensor(`output.recon.${i}`).data));
    const map = maxRelError(out.anomaly_map!.data, fx.tensor('output.pred').data);
    console.log(
      `ORT pipeline parity: targets ${targets.map((e) => e.toExponential(2)).join(' ')}, recon ${recon.map((e) => e.toExponential(2)).join(' ')}, map ${map.toExponential(2)}`,
    );
    for (const e of [...targets, ...recon, map]) expect(e).toBeLessThan(1e-4);
  });

  it('[0,1] RGB in: the graph normalises with ImageNet mean/std (same map as the normalised input)', async () => {
    const img = fx.tensor('input.image');
    const unit = new Float32Array(img.data.length);
    const plane = 224 * 224;
    for (let i = 0; i < unit.length; i++) {
      const c = Math.floor(i / plane) % 3;
      unit[i] = img.data[i]! * IMAGENET_NORMALIZATION.std[c]! + IMAGENET_NORMALIZATION.mean[c]!;
    }
    const out = await run(buildInferenceGraph(PRESETS.small), { image: { dtype: 'float32', shape: img.shape, data: unit } });
    expect(out.anomaly_map!.shape).toEqual([1, 1, 224, 224]);
    expect(maxRelError(out.anomaly_map!.data, fx.tensor('output.pred').data)).toBeLessThan(1e-4);
  });

  it('is batch-generic: a batch of two images gives each image its own map and score', async () => {
    const img = fx.tensor('input.image');
    const flipped = new Float32Array(img.data.length);
    for (let i = 0; i < flipped.length; i++) flipped[i] = img.data[i - (i % 224) + (223 - (i % 224))]!;
    const graph = buildInferenceGraph(PRESETS.small, { input: 'normalized' });
    const single = await run(graph, { image: { dtype: 'float32', shape: img.shape, data: flipped } }, true);
    const pair = new Float32Array(2 * img.data.length);
    pair.set(img.data, 0);
    pair.set(flipped, img.data.length);
    const out = await run(graph, { image: { dtype: 'float32', shape: [2, 3, 224, 224], data: pair } }, true);
    expect(out.anomaly_map!.shape).toEqual([2, 1, 224, 224]);
    expect(out.score!.shape).toEqual([2]);
    const n = 224 * 224;
    expect(maxRelError(out.anomaly_map!.data.subarray(0, n), fx.tensor('output.pred').data)).toBeLessThan(1e-4);
    expect(maxRelError(out.anomaly_map!.data.subarray(n), single.anomaly_map!.data)).toBeLessThan(1e-5);
    expect(out.score!.data[1]).toBeCloseTo(single.score!.data[0]!, 5);
  });
});
