import { resolve } from 'node:path';
import { createOnnxBackend } from '@unias/backend-onnx';
import { countParams, entryToFloat32, readSafetensorsFile } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { describe, expect, it } from 'vitest';
import { getBackbone } from './registry.js';
import { buildBackboneGraph } from './weights/check.js';
import { formulaWeights, packageRoot, paramShapes, readJson, tapShapes } from './testing/helpers.js';

const fixtures = resolve(packageRoot, 'test/fixtures');
const ARCHS = ['resnet18', 'resnet34', 'resnet50', 'wide_resnet50_2'] as const;
const isStat = (name: string) => name.endsWith('running_mean') || name.endsWith('running_var');

describe('ResNet key layout (vs torchvision 0.14 state_dict keys)', () => {
  const keys = readJson<{ keys: Record<string, Record<string, number[]>> }>(resolve(fixtures, 'torchvision-resnet-keys.json')).keys;
  // Counts torchvision documents (weights, biases, BN affine).
  const documented: Record<string, number> = { resnet18: 11_689_512, resnet34: 21_797_672, resnet50: 25_557_032, wide_resnet50_2: 68_883_240 };

  for (const arch of ARCHS) {
    it(`${arch}: every key and shape of torchvision's state_dict (minus num_batches_tracked), ${documented[arch]!.toLocaleString('en')} parameters`, () => {
      const { full } = buildBackboneGraph(getBackbone(arch), { size: 64 });
      const official = Object.entries(keys[arch]!).filter(([k]) => !k.endsWith('num_batches_tracked'));
      const ours = paramShapes(full);
      expect([...ours.keys()].sort()).toEqual(official.map(([k]) => k).sort());
      for (const [k, shape] of official) expect(ours.get(k), k).toEqual(shape);
      expect(countParams(full, (p) => !isStat(p.name))).toBe(documented[arch]);
    });
  }
});

describe('ResNet taps', () => {
  it('every tap has the channels and stride it declares, at 224 and 160', () => {
    for (const arch of ARCHS) {
      const bb = getBackbone(arch);
      for (const size of [224, 160]) {
        const shapes = tapShapes(
          bb,
          size,
          bb.taps.map((t) => t.name),
        );
        for (const t of bb.taps) expect(shapes[t.name], `${arch} ${t.name} @${size}`).toEqual([1, t.channels, size / t.stride, size / t.stride]);
      }
    }
    expect(
      getBackbone('wide_resnet50_2')
        .taps.filter((t) => /^res\d$/.test(t.name))
        .map((t) => [t.channels, t.stride]),
    ).toEqual([
      [64, 2],
      [256, 4],
      [512, 8],
      [1024, 16],
      [2048, 32],
    ]);
  });

  it('the default taps res1..res4 need nothing from layer4 or fc', () => {
    const { pruned } = buildBackboneGraph(getBackbone('resnet18'), { size: 64 });
    expect([...pruned.params.keys()].some((n) => n.startsWith('layer4.') || n.startsWith('fc.'))).toBe(false);
    expect(pruned.params.has('layer3.0.downsample.1.running_var')).toBe(true);
  });
});

describe('ResNet parity with torchvision (float64, weights by formula, 32x32 input)', async () => {
  const golden = await readSafetensorsFile(resolve(fixtures, 'resnet-golden.safetensors'));
  const get = (name: string) => {
    const e = golden.tensors.get(name)!;
    return { dtype: 'float32' as const, shape: e.shape, data: entryToFloat32(e) };
  };
  const image = get('image');
  const TAPS = ['res1', 'res2', 'res3', 'res4', 'res5'];

  for (const arch of ['resnet18', 'wide_resnet50_2']) {
    it(`${arch}: res1..res5 on onnxruntime within 1e-4 relative`, async () => {
      const { full } = buildBackboneGraph(getBackbone(arch), { size: 32, taps: TAPS });
      const params = formulaWeights(full);
      const session = await (await createOnnxBackend()).prepare(full, { params });
      try {
        const out = await session.run({ image });
        const errors = Object.fromEntries(TAPS.map((t) => [t, maxRelError(out[t]!.data, get(`${arch}.${t}`).data)]));
        console.log(`${arch} vs torchvision (onnxruntime):`, JSON.stringify(errors));
        for (const t of TAPS) expect(errors[t], t).toBeLessThan(1e-4);
      } finally {
        await session.dispose();
      }
    });
  }

  it('resnet18: res1..res5 on the float64 reference evaluator within 1e-6 relative', () => {
    const { full } = buildBackboneGraph(getBackbone('resnet18'), { size: 32, taps: TAPS });
    const out = evaluateReference(full, { image }, { params: formulaWeights(full) });
    const errors = Object.fromEntries(TAPS.map((t) => [t, maxRelError(out[t]!.data, get(`resnet18.${t}`).data)]));
    console.log('resnet18 vs torchvision (reference):', JSON.stringify(errors));
    for (const t of TAPS) expect(errors[t], t).toBeLessThan(1e-6);
  });
});
