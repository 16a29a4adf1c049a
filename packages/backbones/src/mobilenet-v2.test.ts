import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countParams, createGraph } from '@unias/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOBILENET_V2 } from './mobilenet-v2.js';
import {
  convertNsfwjsMobileNetV2,
  frozenKerasLayers,
  loadMobileNetV2ImageNet,
  mobileNetV2CacheFile,
  parseNsfwjsFiles,
  readNsfwjsFiles,
  type NsfwjsModel,
} from './pretrained/nsfwjs-mobilenet-v2.js';
import { buildBackboneGraph, checkBackboneWeights } from './weights/check.js';
import type { WeightMap } from './weights/names.js';
import { paramShapes, sameValues, tapShapes } from './testing/helpers.js';

let model: NsfwjsModel;
let cacheDir: string;
let weights: WeightMap;
const messages: string[] = [];

beforeAll(async () => {
  model = parseNsfwjsFiles(await readNsfwjsFiles());
  cacheDir = await mkdtemp(join(tmpdir(), 'unias-backbones-'));
  weights = await loadMobileNetV2ImageNet({ cacheDir, onProgress: (m) => messages.push(m) });
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

interface ManifestWeight {
  name: string;
  shape: number[];
}

function manifest(): ManifestWeight[] {
  return model.modelJson.weightsManifest.flatMap((g) => g.weights.map((w) => ({ name: w.name, shape: [...w.shape] })));
}

/** Keras name and shape -> PyTorch name and shape, written out case by case from the Keras layouts. */
function expectedParam(w: ManifestWeight): [string, number[]] {
  const [layer, variable] = w.name.split('/') as [string, string];
  const s = w.shape;
  switch (variable) {
    case 'kernel':
      return [`${layer}.weight`, s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : [s[1]!, s[0]!]];
    case 'depthwise_kernel':
      return [`${layer}.weight`, [s[2]! * s[3]!, 1, s[0]!, s[1]!]];
    case 'gamma':
      return [`${layer}.weight`, s];
    case 'beta':
      return [`${layer}.bias`, s];
    case 'moving_mean':
      return [`${layer}.running_mean`, s];
    case 'moving_variance':
      return [`${layer}.running_var`, s];
    default:
      return [`${layer}.${variable}`, s];
  }
}

describe('MobileNetV2 key layout (vs the Keras model in nsfwjs)', () => {
  it("declares every Keras layer weight of the feature trunk (Conv1..Conv_1_bn) plus Keras Applications' Logits", () => {
    const { full } = buildBackboneGraph(MOBILENET_V2, { size: 224 });
    const expected = new Map(
      manifest()
        .filter((w) => !w.name.startsWith('dense_'))
        .map(expectedParam),
    );
    expected.set('Logits.weight', [1000, 1280]);
    expected.set('Logits.bias', [1000]);
    const ours = paramShapes(full);
    expect([...ours.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [k, shape] of expected) expect(ours.get(k), k).toEqual(shape);
    // Keras Applications' MobileNetV2 (alpha 1.0, 224, with top): 3,538,984 values, 34,112 of them BN statistics.
    expect(countParams(full)).toBe(3_538_984);
    expect(countParams(full, (p) => p.name.endsWith('running_mean') || p.name.endsWith('running_var'))).toBe(34_112);
  });

  it('the nsfwjs model froze exactly Conv1..block_10 (the layers whose weights we take as ImageNet)', () => {
    const frozen = frozenKerasLayers(model.modelJson.modelTopology);
    expect(frozen.has('Conv1')).toBe(true);
    expect(frozen.has('block_10_project_BN')).toBe(true);
    expect(frozen.has('block_11_expand')).toBe(false);
    expect(frozen.has('Conv_1')).toBe(false);
  });
});

describe('MobileNetV2 taps', () => {
  it('res1..res4 sit in the frozen layers at strides 2/4/8/16; every tap has its channels and stride at 224 and 160', () => {
    expect(MOBILENET_V2.taps.slice(0, 4).map((t) => [t.name, t.description, t.channels, t.stride])).toEqual([
      ['res1', 'expanded_conv_project_BN', 16, 2],
      ['res2', 'block_2_add', 24, 4],
      ['res3', 'block_5_add', 32, 8],
      ['res4', 'block_10_project_BN', 96, 16],
    ]);
    for (const size of [224, 160]) {
      const shapes = tapShapes(
        MOBILENET_V2,
        size,
        MOBILENET_V2.taps.map((t) => t.name),
      );
      for (const t of MOBILENET_V2.taps) expect(shapes[t.name], `${t.name} @${size}`).toEqual([1, t.channels, size / t.stride, size / t.stride]);
    }
  });

  it('an unknown tap is an error listing the valid ones', () => {
    const b = createGraph();
    expect(() => MOBILENET_V2.build(b, b.input('image', [1, 3, 64, 64]), { taps: ['block_3_add'] })).toThrow(
      /mobilenet_v2": unknown tap "block_3_add"; valid taps: res1, res2, res3, res4, Conv1_relu/,
    );
  });
});

describe('MobileNetV2 default weights (nsfwjs, converted and cached)', () => {
  it('cover the default taps exactly: no missing, extra or misshaped tensor', () => {
    expect(() => checkBackboneWeights(MOBILENET_V2, weights)).not.toThrow();
    expect(() => checkBackboneWeights(MOBILENET_V2, weights, { taps: MOBILENET_V2.defaultWeights!.validTaps })).not.toThrow();
    expect(weights.has('Conv_1.weight')).toBe(false); // fine-tuned for NSFW, not ImageNet: left out
  });

  it('a tap beyond the frozen layers is refused, naming the missing tensors', () => {
    expect(() => checkBackboneWeights(MOBILENET_V2, weights, { taps: ['block_12_add'] })).toThrow(/missing: block_11_expand\.weight/);
  });

  it('are the dequantised Keras values: Conv1 kernel HWIO -> OIHW, q * scale + min', () => {
    const spec = model.modelJson.weightsManifest[0]!.weights[0]!;
    expect(spec.name).toBe('Conv1/kernel'); // first in the shard
    const q = spec.quantization!;
    const w = weights.get('Conv1.weight')!;
    // Keras [kh=1, kw=2, i=0, o=5] is byte ((1*3 + 2)*3 + 0)*32 + 5 of the shard.
    const byte = model.weightData[((1 * 3 + 2) * 3 + 0) * 32 + 5]!;
    expect(w.data[((5 * 3 + 0) * 3 + 1) * 3 + 2]).toBe(Math.fround(byte * q.scale! + q.min!));
  });

  it("expect [0, 1] input: bn_Conv1's moving mean matches the ImageNet mean pixel scaled to [0, 1], not [-1, 1]", () => {
    // Conv1 is linear without bias, so its output mean is sum_k w * E[input]; the BN statistics recorded it.
    const w = weights.get('Conv1.weight')!.data;
    const mean = weights.get('bn_Conv1.running_mean')!.data;
    const pixel = [0.485, 0.456, 0.406];
    const relError = (scale: (m: number) => number) => {
      let num = 0;
      let den = 0;
      for (let o = 0; o < 32; o++) {
        let s = 0;
        for (let i = 0; i < 3; i++) for (let k = 0; k < 9; k++) s += w[(o * 3 + i) * 9 + k]! * scale(pixel[i]!);
        num += (s - mean[o]!) ** 2;
        den += mean[o]! ** 2;
      }
      return Math.sqrt(num / den);
    };
    const unit = relError((m) => m);
    const symmetric = relError((m) => 2 * m - 1);
    expect(unit).toBeLessThan(0.25);
    expect(symmetric).toBeGreaterThan(1);
    expect(MOBILENET_V2.inputNormalization).toEqual({ mean: [0, 0, 0], std: [1, 1, 1] });
  });

  it("convert once: the second load reads the cache file named by the sources' SHA-256", async () => {
    expect(messages.some((m) => m.startsWith('converting'))).toBe(true);
    const files = await readNsfwjsFiles();
    const file = mobileNetV2CacheFile(cacheDir, files.sha256);
    expect((await readdir(cacheDir)).filter((f) => !f.startsWith('.'))).toEqual([file.slice(cacheDir.length + 1)]);
    const again: string[] = [];
    const second = await loadMobileNetV2ImageNet({ cacheDir, onProgress: (m) => again.push(m) });
    expect(again).toEqual([]);
    expect([...second.keys()].sort()).toEqual([...weights.keys()].sort());
    for (const [k, t] of weights) expect(sameValues(second.get(k)!.data, t.data), k).toBe(true);
  });

  it('a corrupted cache is detected by its checksum and rebuilt', async () => {
    const file = mobileNetV2CacheFile(cacheDir, (await readNsfwjsFiles()).sha256);
    const bytes = new Uint8Array(await readFile(file));
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x40; // flips a bit inside the last tensor
    await writeFile(file, bytes);
    const log: string[] = [];
    const rebuilt = await loadMobileNetV2ImageNet({ cacheDir, onProgress: (m) => log.push(m) });
    expect(log[0]).toMatch(/ignoring cache .*checksum/);
    expect(log.some((m) => m.startsWith('converting'))).toBe(true);
    for (const [k, t] of weights) expect(sameValues(rebuilt.get(k)!.data, t.data), k).toBe(true);
  });

  it('the conversion equals a fresh conversion of the bundles', () => {
    const fresh = convertNsfwjsMobileNetV2(model);
    expect(fresh.size).toBe(weights.size);
    for (const [k, t] of fresh) expect(sameValues(weights.get(k)!.data, t.data), k).toBe(true);
  });
});
