import { createGraph, initParams, type Conv2dAttrs } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { blockedConvEligible, blockedWeightOrder, lowerGraph, NCHWC_DOMAIN } from './index.js';

const attrs = (over: Partial<Conv2dAttrs> = {}): Conv2dAttrs => ({ strides: [1, 1], pads: [1, 1, 1, 1], dilations: [1, 1], groups: 1, ...over });

describe('blockedConvEligible', () => {
  it('takes stride-1 spatial convs whose channels fill whole blocks, up to 64 channels in and out at 3x3', () => {
    expect(blockedConvEligible([32, 32, 3, 3], attrs(), 16)).toBe(true);
    expect(blockedConvEligible([16, 64, 3, 3], attrs(), 16)).toBe(true);
    expect(blockedConvEligible([16, 16, 5, 5], attrs(), 16)).toBe(true);
    expect(blockedConvEligible([16, 80, 3, 3], attrs(), 16)).toBe(false); // 80 x 9 > 64 x 9
    expect(blockedConvEligible([256, 32, 3, 3], attrs(), 16)).toBe(false);
    expect(blockedConvEligible([24, 32, 3, 3], attrs(), 16)).toBe(false);
    expect(blockedConvEligible([32, 24, 3, 3], attrs(), 16)).toBe(false);
    expect(blockedConvEligible([24, 32, 3, 3], attrs(), 8)).toBe(true);
    expect(blockedConvEligible([32, 32, 1, 1], attrs({ pads: [0, 0, 0, 0] }), 16)).toBe(false);
    expect(blockedConvEligible([32, 32, 3, 3], attrs({ strides: [2, 2] }), 16)).toBe(false);
    expect(blockedConvEligible([32, 32, 3, 3], attrs({ dilations: [2, 2] }), 16)).toBe(false);
    expect(blockedConvEligible([32, 16, 3, 3], attrs({ groups: 2 }), 16)).toBe(false);
  });
});

/** A row-major transpose, written out index by index. */
function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const index = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < index.length; d++) src += index[d]! * strides[perm[d]!]!;
    out[o] = data[src]!;
    for (let d = index.length - 1; d >= 0 && ++index[d]! === outShape[d]; d--) index[d] = 0;
  }
  return out;
}

describe('blockedWeightOrder', () => {
  it("puts w[ob B + bo, ib B + bi, h, w] at [ob, ib, h, w, bi, bo] (MLAS's OIHWBiBo)", () => {
    const [co, ci, kh, kw, B] = [16, 24, 3, 2, 8];
    const w = Float32Array.from({ length: co * ci * kh * kw }, (_, i) => i);
    let data: Float32Array = w;
    for (const { shape, perm } of blockedWeightOrder([co, ci, kh, kw], B)) data = permute(data, shape, perm);
    let at = 0;
    for (let ob = 0; ob < co / B; ob++)
      for (let ib = 0; ib < ci / B; ib++)
        for (let h = 0; h < kh; h++)
          for (let x = 0; x < kw; x++)
            for (let bi = 0; bi < B; bi++)
              for (let bo = 0; bo < B; bo++) {
                const o = ob * B + bo;
                const i = ib * B + bi;
                expect(data[at++]).toBe(w[((o * ci + i) * kh + h) * kw + x]);
              }
  });
});

function convNet() {
  const b = createGraph();
  const x = b.input('x', [2, 32, 8, 8]);
  const w3 = b.param('w3', [16, 32, 3, 3], { kind: 'normal', mean: 0, std: 0.1 });
  const bias = b.param('bias', [16], { kind: 'zeros' });
  const w1 = b.param('w1', [16, 16, 1, 1], { kind: 'normal', mean: 0, std: 0.1 });
  const h = b.conv2d(x, w3, bias, { padding: 'same' });
  b.output('y', b.conv2d(h, w1, null));
  return b.build();
}

const domainsOf = (model: ReturnType<typeof lowerGraph>['model']) => (model.opsetImport ?? []).map((o) => o.domain);
const blockedNodes = (model: ReturnType<typeof lowerGraph>['model']) => (model.graph?.node ?? []).filter((n) => n.domain === NCHWC_DOMAIN).map((n) => n.opType);

describe('lowering with nchwcBlock', () => {
  const graph = convNet();

  it("writes an eligible conv with a fed weight in onnxruntime's blocked ops, the others as Conv", () => {
    const { model } = lowerGraph(graph, { nchwcBlock: 16 });
    expect(blockedNodes(model)).toEqual(['ReorderInput', 'Conv', 'ReorderOutput']);
    expect(model.graph!.node!.filter((n) => n.opType === 'Conv' && !n.domain)).toHaveLength(1); // the 1x1
    expect(domainsOf(model)).toEqual(['', NCHWC_DOMAIN]);
    const reorder = model.graph!.node!.find((n) => n.opType === 'ReorderOutput')!;
    expect(reorder.attribute!.find((a) => a.name === 'channels')!.i).toBe(16);
    const blockedConv = model.graph!.node!.find((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv')!;
    expect(blockedConv.input).toHaveLength(3); // the bias stays an input
  });

  it('writes plain ONNX without the option, and when the weights are bound (onnxruntime blocks constant weights itself)', () => {
    for (const options of [{}, { nchwcBlock: 16, params: initParams(graph, 0) }]) {
      const { model } = lowerGraph(graph, options);
      expect(blockedNodes(model)).toEqual([]);
      expect(domainsOf(model)).toEqual(['']);
    }
  });

  it('rejects a block that is not a multiple of 4, naming the option', () => {
    expect(() => lowerGraph(graph, { nchwcBlock: 6 })).toThrow(/nchwcBlock/);
  });
});
