import { createGraph, createRng, initParams, multiheadAttention, type TensorData } from '@unias/graph';
import { evaluateReference, maxRelError } from '@unias/graph/testing';
import { describe, expect, it } from 'vitest';
import { hybridDecoder, neighbourMask, pixelDecoder, sinePositionEncoding, unifiedHead } from './index.js';

const rand = (shape: number[], seed: number): TensorData<'float32'> => ({
  dtype: 'float32',
  shape,
  data: createRng(seed).fillUniform(new Float32Array(shape.reduce((a, b) => a * b, 1)), -1, 1),
});

describe('multiheadAttention (graph nn) vs a direct float64 computation', () => {
  it('matches softmax(QK^T/sqrt(d)) V per head with in/out projections and a blocking mask', () => {
    const [n, lq, lk, e, heads] = [2, 5, 6, 8, 2];
    const d = e / heads;
    const blocked = Array.from({ length: lq * lk }, (_, i) => (i * 7) % 5 === 0 && i % lk !== lk - 1);
    const b = createGraph();
    const q = b.input('q', [n, lq, e]);
    const k = b.input('k', [n, lk, e]);
    const v = b.input('v', [n, lk, e]);
    b.output('y', multiheadAttention(b, 'attn', q, k, v, { numHeads: heads, blocked }));
    const g = b.build();
    const params = initParams(g, 4);
    // non-zero biases so that their placement is checked too
    params.set('attn.in_proj_bias', rand([3 * e], 8));
    params.set('attn.out_proj.bias', rand([e], 9));
    const feeds = { q: rand([n, lq, e], 1), k: rand([n, lk, e], 2), v: rand([n, lk, e], 3) };
    const got = evaluateReference(g, feeds, { params }).y!;

    const W = params.get('attn.in_proj_weight')!.data;
    const B = params.get('attn.in_proj_bias')!.data;
    const Wo = params.get('attn.out_proj.weight')!.data;
    const Bo = params.get('attn.out_proj.bias')!.data;
    // x [L, e] -> x W_part^T + b_part, part 0 = q, 1 = k, 2 = v
    const project = (x: ArrayLike<number>, off: number, len: number, part: number) =>
      Array.from({ length: len }, (_, t) =>
        Array.from({ length: e }, (_, o) => {
          let s = B[part * e + o]!;
          for (let c = 0; c < e; c++) s += x[off + t * e + c]! * W[(part * e + o) * e + c]!;
          return s;
        }),
      );
    const expected = new Float64Array(n * lq * e);
    for (let bi = 0; bi < n; bi++) {
      const Q = project(feeds.q.data, bi * lq * e, lq, 0);
      const K = project(feeds.k.data, bi * lk * e, lk, 1);
      const V = project(feeds.v.data, bi * lk * e, lk, 2);
      const ctx = Array.from({ length: lq }, () => new Float64Array(e));
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < lq; i++) {
          const scores = Array.from({ length: lk }, (_, j) => {
            if (blocked[i * lk + j]) return -Infinity;
            let s = 0;
            for (let t = 0; t < d; t++) s += Q[i]![h * d + t]! * K[j]![h * d + t]!;
            return s / Math.sqrt(d);
          });
          const m = Math.max(...scores);
          const ex = scores.map((s) => Math.exp(s - m));
          const z = ex.reduce((a, c) => a + c, 0);
          for (let j = 0; j < lk; j++) for (let t = 0; t < d; t++) ctx[i]![h * d + t]! += (ex[j]! / z) * V[j]![h * d + t]!;
        }
      for (let i = 0; i < lq; i++)
        for (let o = 0; o < e; o++) {
          let s = Bo[o]!;
          for (let c = 0; c < e; c++) s += ctx[i]![c]! * Wo[o * e + c]!;
          expected[(bi * lq + i) * e + o] = s;
        }
    }
    expect(got.shape).toEqual([n, lq, e]);
    expect(maxRelError(got.data, expected)).toBeLessThan(1e-12);
  });
});

describe('sine positional encoding', () => {
  it('equals DETR normalised sine/cosine, y-part then x-part (closed form)', () => {
    const [h, w, f] = [3, 4, 8];
    const pe = sinePositionEncoding(h, w, f);
    expect(pe.length).toBe(2 * f * h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let i = 0; i < f; i++) {
          const dim = 10000 ** ((2 * Math.floor(i / 2)) / f);
          const ey = ((y + 1) / (h + 1e-6)) * 2 * Math.PI;
          const ex = ((x + 1) / (w + 1e-6)) * 2 * Math.PI;
          const trig = i % 2 === 0 ? Math.sin : Math.cos;
          expect(pe[(i * h + y) * w + x]).toBeCloseTo(trig(ey / dim), 5);
          expect(pe[((f + i) * h + y) * w + x]).toBeCloseTo(trig(ex / dim), 5);
        }
  });
  it('refuses an odd feature count', () => {
    expect(() => sinePositionEncoding(2, 2, 3)).toThrow(/positive even integer, got 3/);
  });
});

describe('neighbour mask', () => {
  it('blocks exactly the 7x7 neighbourhood, itself included (clipped at borders)', () => {
    const m = neighbourMask(14, 14, 7)!;
    expect(m.length).toBe(196 * 196);
    const row = (y: number, x: number) => m.slice((y * 14 + x) * 196, (y * 14 + x + 1) * 196);
    expect(row(7, 7).filter(Boolean).length).toBe(49);
    expect(row(0, 0).filter(Boolean).length).toBe(16);
    expect(row(0, 7).filter(Boolean).length).toBe(28);
    expect(row(7, 7)[7 * 14 + 7]).toBe(true);
    expect(row(7, 7)[4 * 14 + 4]).toBe(true);
    expect(row(7, 7)[3 * 14 + 7]).toBe(false);
    expect(row(7, 7)[7 * 14 + 11]).toBe(false);
  });
  it('size 0 is no mask; even sizes and grids it would fully block are errors', () => {
    expect(neighbourMask(14, 14, 0)).toBeUndefined();
    expect(() => neighbourMask(14, 14, 6)).toThrow(/must be odd/);
    expect(() => neighbourMask(7, 7, 7)).toThrow(/blocks every key of the 7x7 query grid at \(3,3\)/);
    expect(neighbourMask(8, 8, 7)).toBeDefined();
  });
});

describe('decoder structure', () => {
  const build = (training: boolean, attention: 'spatial-channel' | 'spatial' = 'spatial-channel') => {
    const b = createGraph({ training });
    const inputs = [b.input('u1', [1, 8, 32, 32]), b.input('u2', [1, 8, 16, 16]), b.input('u3', [1, 12, 8, 8])];
    const { recon } = unifiedHead(b, inputs, {
      pixelDecoder: { convDim: 32, numHeads: 4, dimFeedforward: 16, encoderLayers: 1 },
      predictor: { hidden: 32, maskDim: 8, numHeads: 4, dimFeedforward: 16, targetChannels: [6, 4, 4], attention },
    });
    recon.forEach((r, i) => b.output(`recon.${i}`, r));
    return { g: b.build(), recon };
  };

  it('reconstructs each level at its own resolution, coarsest first', () => {
    expect(build(false).recon.map((r) => r.shape)).toEqual([
      [1, 6, 8, 8],
      [1, 4, 16, 16],
      [1, 4, 32, 32],
    ]);
  });

  it('training graphs get dropout masks in every attention and FFN; eval graphs none', () => {
    expect(build(false).g.random.size).toBe(0);
    const random = [...build(true).g.random.entries()];
    expect(random.every(([, s]) => s.kind === 'dropout' && s.p === 0.1)).toBe(true);
    const names = random.map(([n]) => n);
    // encoder layer: attention weights, residual 1, FFN hidden, residual 2
    expect(names.filter((n) => n.startsWith('pixel_decoder.transformer.encoder.layers.0.')).length).toBe(4);
    // per level: 3 spatial + 3 channel sub-layers, attention ones with two masks, FFN with two
    for (let i = 0; i < 3; i++) expect(names.filter((n) => n.startsWith(`predictor.transformer_block.${i}.`)).length).toBe(12);
  });

  it('spatial-only attention has no channel branch parameters', () => {
    const names = [...build(false, 'spatial').g.params.keys()];
    expect(names.some((n) => n.includes('Channel'))).toBe(false);
    expect(names.some((n) => n.includes('SpatialCrossAttnLayer'))).toBe(true);
  });

  it('refuses inconsistent configurations with the reason', () => {
    const b = createGraph();
    const u = b.input('u', [1, 8, 14, 14]);
    expect(() => pixelDecoder(b, [u], { convDim: 48, numHeads: 4, dimFeedforward: 8 })).toThrow(/48 is not divisible by 32 GroupNorm groups/);
    const m = b.input('m', [1, 32, 13, 13]);
    expect(() => hybridDecoder(b, [m], { hidden: 32, maskDim: 8, numHeads: 4, dimFeedforward: 8, targetChannels: [4] })).toThrow(
      /169 = 13x13 positions, not divisible by 4 heads/,
    );
    expect(() => hybridDecoder(b, [m], { hidden: 32, maskDim: 8, numHeads: 4, dimFeedforward: 8, targetChannels: [4, 4] })).toThrow(
      /2 target channel counts for 1 levels/,
    );
  });
});
