/**
 * Int8 QDQ quantisation of a small hand-made graph (Conv 1x1 -> BatchNormalization -> Relu ->
 * MatMul with a transposed weight), run in onnxruntime, against an error bound derived here from
 * the quantisation steps of the ONNX QuantizeLinear definition (not from the quantiser's code):
 * every rounding is at most half a step, propagated through the float math computed here in JS.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DT, makeTensor, onnx, type NodeProto } from './onnx-tensors.js';
import { quantizeOnnxBytes } from './quantize-model.js';

const C = 3;
const K = 5;
const S = 4;
const J = 6;
const EPS = 1e-3;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = lcg(7);
const uniform = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());

const w1 = uniform(K * C, -1, 1);
const b1 = uniform(K, -0.2, 0.2);
const gamma = uniform(K, 0.5, 2);
const beta = uniform(K, -0.3, 0.3);
const mean = uniform(K, -0.2, 0.2);
const variance = uniform(K, 0.2, 1.5);
/** Stored [J, S]; the graph transposes it to [S, J] at run time. */
const w2t = uniform(J * S, -1, 1);

function node(opType: string, input: string[], output: string[], attribute: NodeProto['attribute'] = []): NodeProto {
  return { opType, name: `${output[0]}`, input, output, attribute };
}

function modelBytes(): Uint8Array {
  const graph = {
    name: 'tiny',
    input: [
      { name: 'image', type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: C }, { dimValue: S }, { dimValue: S }] } } } },
    ],
    output: [{ name: 'out', type: { tensorType: { elemType: DT.FLOAT } } }],
    initializer: [
      makeTensor('w1', DT.FLOAT, [K, C, 1, 1], w1),
      makeTensor('b1', DT.FLOAT, [K], b1),
      makeTensor('gamma', DT.FLOAT, [K], gamma),
      makeTensor('beta', DT.FLOAT, [K], beta),
      makeTensor('mean', DT.FLOAT, [K], mean),
      makeTensor('var', DT.FLOAT, [K], variance),
      makeTensor('w2t', DT.FLOAT, [J, S], w2t),
    ],
    node: [
      node('Conv', ['image', 'w1', 'b1'], ['conv']),
      node('BatchNormalization', ['conv', 'gamma', 'beta', 'mean', 'var'], ['bn'], [{ name: 'epsilon', type: 1, f: EPS }]),
      node('Relu', ['bn'], ['relu']),
      node('Transpose', ['w2t'], ['w2'], [{ name: 'perm', type: 7, ints: [1, 0] }]),
      node('MatMul', ['relu', 'w2'], ['out']),
    ],
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 18 }], graph })).finish();
}

/** Conv weights with the batch norm folded in (w * gamma / sqrt(var + eps)), bias likewise. */
const folded = (() => {
  const w = new Float32Array(K * C);
  const b = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const s = gamma[k]! / Math.sqrt(variance[k]! + EPS);
    for (let c = 0; c < C; c++) w[k * C + c] = w1[k * C + c]! * s;
    b[k] = (b1[k]! - mean[k]!) * s + beta[k]!;
  }
  return { w, b };
})();
const w2 = (s: number, j: number) => w2t[j * S + s]!;

/** The float graph in JS: relu activations [K, S, S] and the output [K, S, J]. */
function forward(x: Float32Array): { relu: Float32Array; out: Float32Array } {
  const relu = new Float32Array(K * S * S);
  for (let k = 0; k < K; k++) {
    for (let p = 0; p < S * S; p++) {
      let v = folded.b[k]!;
      for (let c = 0; c < C; c++) v += folded.w[k * C + c]! * x[c * S * S + p]!;
      relu[k * S * S + p] = Math.max(0, v);
    }
  }
  const out = new Float32Array(K * S * J);
  for (let k = 0; k < K; k++)
    for (let r = 0; r < S; r++)
      for (let j = 0; j < J; j++) {
        let v = 0;
        for (let s = 0; s < S; s++) v += relu[(k * S + r) * S + s]! * w2(s, j);
        out[(k * S + r) * J + j] = v;
      }
  return { relu, out };
}

const images = Array.from({ length: 6 }, () => uniform(C * S * S, 0, 1));
// The extremes of [0, 1] are in the set, so the input's range is exactly [0, 1].
images[0]![0] = 0;
images[0]![1] = 1;
let dir: string;
let int8: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unias-qdq-'));
  int8 = (await quantizeOnnxBytes(modelBytes(), [S, S], { images, method: 'minmax' })).bytes;
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('int8 QDQ quantisation of Conv -> BatchNormalization -> Relu -> MatMul', () => {
  it('stays within the error bound of its quantisation steps, and is not the float graph', async () => {
    // Steps as QuantizeLinear defines them: uint8 activations over [min(0, lo), max(0, hi)] / 255,
    // int8 symmetric weights max|w| / 127 (per output channel for Conv, one for MatMul).
    const sx = 1 / 255;
    let reluMax = 0;
    for (const img of images) for (const v of forward(img).relu) reluMax = Math.max(reluMax, v);
    const sr = reluMax / 255;
    const sw = Array.from({ length: K }, (_, k) => Math.max(...folded.w.slice(k * C, (k + 1) * C).map(Math.abs)) / 127);
    const s2 = Math.max(...w2t.map(Math.abs)) / 127;

    const session = await ort.InferenceSession.create(int8, { intraOpNumThreads: 1 });
    let worst = 0;
    let moved = 0;
    for (const x of images) {
      const ref = forward(x);
      const got = (await session.run({ image: new ort.Tensor('float32', x, [1, C, S, S]) }))['out']!.data as Float32Array;
      for (let k = 0; k < K; k++) {
        // relu error: input rounding through the weights, weight rounding through the input, the
        // int32 bias rounding (step sx * sw), then the activation's own rounding to sr.
        let e1 = (sx * sw[k]!) / 2;
        for (let c = 0; c < C; c++) e1 += (Math.abs(folded.w[k * C + c]!) * sx) / 2 + (1 * sw[k]!) / 2 + (sx * sw[k]!) / 4;
        const er = e1 + sr / 2;
        for (let r = 0; r < S; r++)
          for (let j = 0; j < J; j++) {
            let bound = 0;
            for (let s = 0; s < S; s++) bound += Math.abs(w2(s, j)) * er + (Math.abs(ref.relu[(k * S + r) * S + s]!) * s2) / 2 + (er * s2) / 2;
            const i = (k * S + r) * J + j;
            const err = Math.abs(got[i]! - ref.out[i]!);
            worst = Math.max(worst, err / bound);
            moved = Math.max(moved, err);
          }
      }
    }
    await session.release();
    console.log(`int8 vs float: worst error ${(worst * 100).toFixed(1)}% of its bound, max abs ${moved.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1);
    expect(moved).toBeGreaterThan(1e-5);
  });

  it('is what onnxruntime fuses into integer kernels (QLinearConv, the Relu dropped into the quantiser)', async () => {
    const optimized = join(dir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(int8, { intraOpNumThreads: 1, graphOptimizationLevel: 'extended', optimizedModelFilePath: optimized });
    await session.release();
    const ops = onnx.ModelProto.decode(await readFile(optimized)).graph!.node!.map((n) => n.opType);
    expect(ops).toContain('QLinearConv');
    expect(ops).not.toContain('Conv');
    expect(ops).not.toContain('Relu');
    expect(ops).not.toContain('BatchNormalization');
  });

  it('keeps the float interface and stores int8 weights', () => {
    const m = onnx.ModelProto.decode(int8);
    const g = m.graph!;
    expect(g.input!.map((i) => [i.name, i.type?.tensorType?.elemType])).toEqual([['image', DT.FLOAT]]);
    expect(g.output!.map((o) => o.name)).toEqual(['out']);
    const types = new Map(g.initializer!.map((t) => [t.name, t.dataType]));
    const weightOf = (op: string) => g.node!.find((n) => n.opType === op)!.input![1]!;
    const dqOf = (name: string) => g.node!.find((n) => n.output![0] === name)!;
    expect(dqOf(weightOf('Conv')).opType).toBe('DequantizeLinear');
    expect(types.get(dqOf(weightOf('Conv')).input![0])).toBe(DT.INT8);
    expect(types.get(dqOf(weightOf('MatMul')).input![0])).toBe(DT.INT8);
    expect(types.get(dqOf(g.node!.find((n) => n.opType === 'Conv')!.input![2]!).input![0])).toBe(DT.INT32);
    expect(g.node!.some((n) => n.opType === 'Transpose' || n.opType === 'BatchNormalization')).toBe(false);
  });
});
