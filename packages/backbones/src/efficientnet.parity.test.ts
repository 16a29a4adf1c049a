/**
 * EfficientNet-B4 against the official UniAS code: its backbone weights (official keys, F16) on
 * the fixture's input image; our taps vs the raw taps recovered from the fixture's decoder inputs
 * (u = concat(blur(v), v - blur(v)), so v = u[:, :C] + u[:, C:]).
 */
import { FIXTURES } from '@unias/test-fixtures';
import { createOnnxBackend } from '@unias/backend-onnx';
import { createTfjsBackend } from '@unias/backend-tfjs';
import { entryToFloat32, readSafetensorsFile, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { getBackbone } from './registry.js';
import { buildBackboneGraph, checkBackboneWeights } from './weights/check.js';
import { importSafetensors } from './weights/safetensors.js';
import type { WeightMap } from './weights/names.js';

const TAPS = ['res1', 'res2', 'res3', 'res4'] as const;
const backbone = getBackbone('efficientnet-b4');

let weights: WeightMap;
let image: TensorData<'float32'>;
const expected: Record<string, Float32Array> = {};

beforeAll(async () => {
  weights = await importSafetensors(FIXTURES.backboneTaps);
  const io = await readSafetensorsFile(FIXTURES.io);
  const img = io.tensors.get('input.image')!;
  image = { dtype: 'float32', shape: img.shape, data: entryToFloat32(img) };
  for (const tap of TAPS) {
    const u = io.tensors.get(`backbone.decoder_input.${tap}`)!;
    const [n, c2, h, w] = u.shape as [number, number, number, number];
    const c = c2 / 2;
    const data = entryToFloat32(u);
    const v = new Float32Array(n * c * h * w);
    for (let i = 0; i < n; i++)
      for (let ch = 0; ch < c; ch++)
        for (let p = 0; p < h * w; p++) v[(i * c + ch) * h * w + p] = data[(i * c2 + ch) * h * w + p]! + data[(i * c2 + c + ch) * h * w + p]!;
    expected[tap] = v;
  }
});

describe('EfficientNet-B4 parity with the official code (fixture weights, 224x224)', () => {
  it('the fixture weights fit the taps graph under the "backbone" scope (keys of unused parts absent)', () => {
    expect(weights.size).toBe(413);
    expect(() => checkBackboneWeights(backbone, weights, { scope: 'backbone' })).not.toThrow();
  });

  it('onnxruntime: res1..res4 within 1e-4 relative', async () => {
    const { pruned } = buildBackboneGraph(backbone, { scope: 'backbone', size: 224 });
    const session = await (await createOnnxBackend()).prepare(pruned, { params: weights });
    try {
      const out = await session.run({ image });
      const errors = Object.fromEntries(TAPS.map((t) => [t, maxRelError(out[t]!.data, expected[t]!)]));
      console.log('efficientnet-b4 parity (onnxruntime):', JSON.stringify(errors));
      for (const t of TAPS) {
        const spec = backbone.taps.find((s) => s.name === t)!;
        expect(out[t]!.shape).toEqual([1, spec.channels, 224 / spec.stride, 224 / spec.stride]);
        expect(errors[t], t).toBeLessThan(1e-4);
      }
    } finally {
      await session.dispose();
    }
  });

  it('tfjs (wasm, else cpu), one forward: res1..res4 within 1e-4 relative', async () => {
    const { pruned } = buildBackboneGraph(backbone, { scope: 'backbone', size: 224 });
    const tfjs = await createTfjsBackend({ prefer: ['tfjs-wasm', 'tfjs-cpu'] });
    const session = await tfjs.prepare(pruned, { params: weights });
    try {
      const t0 = Date.now();
      const out = await session.run({ image });
      const errors = Object.fromEntries(TAPS.map((t) => [t, maxRelError(out[t]!.data, expected[t]!)]));
      console.log(`efficientnet-b4 parity (${tfjs.name}, ${Date.now() - t0} ms):`, JSON.stringify(errors));
      for (const t of TAPS) expect(errors[t], t).toBeLessThan(1e-4);
    } finally {
      await session.dispose();
    }
  });

  it('float64 reference evaluator: res1 within 1e-4 relative (the deeper taps run on onnxruntime above)', () => {
    const { pruned } = buildBackboneGraph(backbone, { scope: 'backbone', size: 224, taps: ['res1'] });
    const out = evaluateReference(pruned, { image }, { params: weights });
    const error = maxRelError(out['res1']!.data, expected['res1']!);
    console.log('efficientnet-b4 parity (reference):', JSON.stringify({ res1: error }));
    expect(error).toBeLessThan(1e-4);
  });
});
