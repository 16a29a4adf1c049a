/**
 * The converted MobileNetV2 weights against TensorFlow.js itself: tfjs-layers loads the same
 * nsfwjs files (cpu backend) and computes the tap layers; our graph, with our conversion of those
 * files, must give the same feature maps.
 */
import * as tf from '@tensorflow/tfjs';
import { createOnnxBackend } from '@unias/backend-onnx';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import type { TensorData } from '@unias/graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOBILENET_V2 } from './mobilenet-v2.js';
import { convertNsfwjsMobileNetV2, parseNsfwjsFiles, readNsfwjsFiles, type NsfwjsModel } from './pretrained/nsfwjs-mobilenet-v2.js';
import { decodeTfjsWeights } from './weights/tfjs-layers.js';
import { buildBackboneGraph } from './weights/check.js';
import type { WeightMap } from './weights/names.js';
import { noise } from './testing/helpers.js';

const TAPS = ['res1', 'res2', 'res3', 'res4'] as const;
const LAYERS = TAPS.map((t) => MOBILENET_V2.taps.find((s) => s.name === t)!.description);

let nsfw: NsfwjsModel;
let weights: WeightMap;
let tfModel: tf.LayersModel;
let tapModel: tf.LayersModel;

interface KerasLayerJson {
  name: string;
  class_name: string;
  inbound_nodes: Array<Array<[string, number, number, unknown]>>;
}

/**
 * The same layer objects (same weights) re-applied from an input of any size, up to the last tap
 * layer: the stored model declares a fixed 224x224 input, and its classifier needs it.
 */
function anySizeTapModel(): tf.LayersModel {
  const topology = nsfw.modelJson.modelTopology as { model_config: { config: { layers: KerasLayerJson[] } } };
  const input = tf.input({ shape: [null, null, 3] });
  const outputs = new Map<string, tf.SymbolicTensor>();
  for (const l of topology.model_config.config.layers) {
    if (l.class_name === 'InputLayer') {
      outputs.set(l.name, input);
      continue;
    }
    const inbound = l.inbound_nodes[0]!.map(([name]) => outputs.get(name)!);
    outputs.set(l.name, tfModel.getLayer(l.name).apply(inbound.length === 1 ? inbound[0]! : inbound) as tf.SymbolicTensor);
    if (LAYERS.every((n) => outputs.has(n))) break;
  }
  return tf.model({ inputs: input, outputs: LAYERS.map((n) => outputs.get(n)!) });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  nsfw = parseNsfwjsFiles(await readNsfwjsFiles());
  weights = convertNsfwjsMobileNetV2(nsfw);
  const data = nsfw.weightData;
  tfModel = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: nsfw.modelJson.modelTopology as tf.io.ModelJSON['modelTopology'],
      weightSpecs: nsfw.modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    }),
  );
  tapModel = tf.model({ inputs: tfModel.inputs, outputs: LAYERS.map((l) => tfModel.getLayer(l).output as tf.SymbolicTensor) });
});

afterAll(() => {
  tfModel?.dispose();
});

/** tfjs's tap outputs (NHWC) for an NCHW image, as NCHW Float32Arrays. */
function tfjsTaps(image: TensorData<'float32'>, model: tf.LayersModel = tapModel): Float32Array[] {
  const before = tf.memory().numTensors;
  const outs = tf.tidy(() => {
    const x = tf.tensor4d(image.data, image.shape as [number, number, number, number]).transpose([0, 2, 3, 1]);
    const ys = model.predict(x) as tf.Tensor[];
    return ys.map((y) => y.transpose([0, 3, 1, 2]));
  });
  const arrays = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  expect(tf.memory().numTensors).toBe(before);
  return arrays;
}

describe('MobileNetV2 (nsfwjs weights) vs tf.loadLayersModel on the same files', () => {
  it("our decoding of the quantised shard equals tfjs's, bit for bit", () => {
    const ours = decodeTfjsWeights(nsfw.modelJson, nsfw.weightData, 'nsfwjs');
    const specs = nsfw.modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
    const data = nsfw.weightData;
    const theirs = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer, specs);
    expect(Object.keys(theirs).sort()).toEqual([...ours.keys()].sort());
    for (const [name, t] of Object.entries(theirs)) {
      const a = t.dataSync();
      const b = ours.get(name)!.data;
      let same = a.length === b.length;
      for (let i = 0; same && i < a.length; i++) same = a[i] === b[i];
      expect(same, name).toBe(true);
    }
    tf.dispose(Object.values(theirs));
  });

  it('224x224 on onnxruntime: res1..res4 within 1e-5 relative', async () => {
    const image = noise([1, 3, 224, 224], 11, 0, 1);
    const expected = tfjsTaps(image);
    const { pruned } = buildBackboneGraph(MOBILENET_V2, { size: 224 });
    const session = await (await createOnnxBackend()).prepare(pruned, { params: weights });
    try {
      const out = await session.run({ image });
      const errors = Object.fromEntries(TAPS.map((t, i) => [t, maxRelError(out[t]!.data, expected[i]!)]));
      console.log('mobilenet_v2 vs tfjs-layers (onnxruntime, 224):', JSON.stringify(errors));
      for (const t of TAPS) expect(errors[t], t).toBeLessThan(1e-5);
    } finally {
      await session.dispose();
    }
  });

  it('104x104 (odd sizes from stride 16 on) on the float64 reference evaluator: res1..res4 within 1e-5 relative', () => {
    const image = noise([1, 3, 104, 104], 12, 0, 1);
    const expected = tfjsTaps(image, anySizeTapModel());
    const { pruned } = buildBackboneGraph(MOBILENET_V2, { size: 104 });
    const out = evaluateReference(pruned, { image }, { params: weights });
    const errors = Object.fromEntries(TAPS.map((t, i) => [t, maxRelError(out[t]!.data, expected[i]!)]));
    console.log('mobilenet_v2 vs tfjs-layers (reference, 104):', JSON.stringify(errors));
    for (const t of TAPS) expect(errors[t], t).toBeLessThan(1e-5);
  });
});
