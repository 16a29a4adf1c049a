/**
 * The float rewrites before quantising, against onnxruntime running the graph before them: a
 * Slice and a Transpose of a weight folded into one initializer, a BatchNormalization into its Conv.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { foldBatchNorms, foldSlicedInitializers, foldTransposedInitializers } from './fold.js';
import { DT, makeTensor, onnx, type GraphProto } from './onnx-tensors.js';

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * 0.8);
const i64 = (v: number[]) => {
  const t = new BigInt64Array(v.map(BigInt));
  return new Uint8Array(t.buffer);
};

function graph(): GraphProto {
  const int64 = (name: string, v: number[]) => ({ name, dataType: DT.INT64, dims: [v.length], rawData: i64(v) });
  return {
    name: 'fold',
    input: [
      { name: 'image', type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 4 }, { dimValue: 4 }] } } } },
    ],
    output: [{ name: 'out', type: { tensorType: { elemType: DT.FLOAT } } }],
    initializer: [
      makeTensor('w', DT.FLOAT, [2, 3, 3, 3], values(54, 1)),
      makeTensor('gamma', DT.FLOAT, [2], Float32Array.from([1.5, 0.5])),
      makeTensor('beta', DT.FLOAT, [2], Float32Array.from([0.1, -0.2])),
      makeTensor('mean', DT.FLOAT, [2], Float32Array.from([0.3, -0.1])),
      makeTensor('var', DT.FLOAT, [2], Float32Array.from([0.7, 1.9])),
      makeTensor('qkv', DT.FLOAT, [12, 4], values(48, 2)),
      int64('starts', [4]),
      int64('ends', [8]),
      int64('axes', [0]),
      int64('steps', [1]),
    ],
    node: [
      { opType: 'Conv', name: 'conv', input: ['image', 'w'], output: ['c'], attribute: [{ name: 'pads', type: 7, ints: [1, 1, 1, 1] }] },
      { opType: 'BatchNormalization', name: 'bn', input: ['c', 'gamma', 'beta', 'mean', 'var'], output: ['b'] },
      { opType: 'Slice', name: 'k', input: ['qkv', 'starts', 'ends', 'axes', 'steps'], output: ['wk'] },
      { opType: 'Transpose', name: 'kt', input: ['wk'], output: ['wkt'], attribute: [{ name: 'perm', type: 7, ints: [1, 0] }] },
      { opType: 'MatMul', name: 'mm', input: ['b', 'wkt'], output: ['out'] },
    ],
  };
}

async function run(g: GraphProto): Promise<Float32Array> {
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 18 }], graph: g })).finish();
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const x = Float32Array.from({ length: 48 }, (_, i) => (i % 7) / 7);
  const out = (await s.run({ image: new ort.Tensor('float32', x, [1, 3, 4, 4]) }))['out']!.data as Float32Array;
  await s.release();
  return out;
}

describe('float rewrites before quantising', () => {
  it('Slice + Transpose of a weight and Conv + BatchNormalization fold to the same outputs', async () => {
    const before = await run(graph());
    const g = graph();
    expect([foldSlicedInitializers(g), foldTransposedInitializers(g), foldBatchNorms(g)]).toEqual([1, 1, 1]);
    expect(g.node!.map((n) => n.opType)).toEqual(['Conv', 'MatMul']);
    expect(g.initializer!.map((t) => t.name).sort()).toEqual(['c/bn_folded_bias', 'w/bn_folded', 'wkt'].sort());
    const after = await run(g);
    expect(after.length).toBe(before.length);
    let err = 0;
    for (let i = 0; i < before.length; i++) err = Math.max(err, Math.abs(after[i]! - before[i]!));
    expect(err).toBeLessThan(1e-5);
  });
});
