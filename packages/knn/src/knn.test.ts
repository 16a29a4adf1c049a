import { describe, expect, it } from 'vitest';
import { createGraph, createRng } from '@unias/graph';
import { createOnnxBackend } from '@unias/backend-onnx';
import { createBankBuilder, greedyCoreset, nearestDistanceMap, patchEmbedding } from './index.js';

const rng = createRng(7);
const randn = (n: number) => rng.fillNormal(new Float32Array(n));

describe('nearestDistanceMap', () => {
  it('gives each patch its Euclidean distance to the nearest bank column (brute force in float64)', async () => {
    const [n, c, h, w, m] = [2, 5, 3, 4, 37];
    const emb = randn(n * c * h * w);
    const bank = randn(c * m);
    const sq = new Float32Array(m);
    for (let j = 0; j < m; j++) for (let k = 0; k < c; k++) sq[j]! += bank[k * m + j]! ** 2;
    // one bank column equals patch (0, 1, 2): its distance must be 0
    for (let k = 0; k < c; k++) bank[k * m + 11] = emb[k * h * w + 1 * w + 2]!;
    sq[11] = 0;
    for (let k = 0; k < c; k++) sq[11]! += bank[k * m + 11]! ** 2;
    const b = createGraph();
    const e = b.input('e', [n, c, h, w]);
    b.output('d', nearestDistanceMap(b, e, b.constant(bank, [c, m]), b.constant(sq, [1, m])));
    b.output('chunked', nearestDistanceMap(b, e, b.constant(bank, [c, m]), b.constant(sq, [1, m]), { chunk: 10 }));
    const backend = await createOnnxBackend();
    const s = await backend.prepare(b.build());
    const outs = await s.run({ e: { dtype: 'float32', shape: [n, c, h, w], data: emb } });
    const d = outs['d']!;
    // chunks of 10, 10, 10, 7 columns give the same minimum
    expect(Array.from(outs['chunked']!.data as Float32Array)).toEqual(Array.from(d.data as Float32Array));
    await s.dispose();
    expect(d.shape).toEqual([n, 1, h, w]);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < h * w; p++) {
        let best = Infinity;
        for (let j = 0; j < m; j++) {
          let s2 = 0;
          for (let k = 0; k < c; k++) s2 += (emb[(i * c + k) * h * w + p]! - bank[k * m + j]!) ** 2;
          best = Math.min(best, s2);
        }
        expect((d.data as Float32Array)[i * h * w + p]).toBeCloseTo(Math.sqrt(best), 4);
      }
    }
    expect((d.data as Float32Array)[1 * w + 2]).toBeLessThan(2e-3);
  });

  it('rejects a bank whose rows are not the embedding channels', () => {
    const b = createGraph();
    const e = b.input('e', [1, 4, 2, 2]);
    expect(() => nearestDistanceMap(b, e, b.input('m', [3, 10]), b.input('s', [1, 10]))).toThrow(/bank \[3, 10\] must be \[4, M\]/);
  });
});

describe('patchEmbedding', () => {
  it('resizes taps to the grid, averages 3x3 neighbourhoods (padding excluded) and concatenates', async () => {
    const b = createGraph();
    const fine = b.input('fine', [1, 2, 4, 4]);
    const coarse = b.input('coarse', [1, 1, 2, 2]);
    b.output('e', patchEmbedding(b, [fine, coarse], { grid: [4, 4], poolSize: 3 }));
    const backend = await createOnnxBackend();
    const s = await backend.prepare(b.build());
    const f = Float32Array.from({ length: 32 }, (_, i) => i);
    const cz = Float32Array.from([1, 1, 1, 1]); // constant: any resize and any mean stays 1
    const out = (await s.run({ fine: { dtype: 'float32', shape: [1, 2, 4, 4], data: f }, coarse: { dtype: 'float32', shape: [1, 1, 2, 2], data: cz } }))['e']!;
    await s.dispose();
    expect(out.shape).toEqual([1, 3, 4, 4]);
    const o = out.data as Float32Array;
    for (let ch = 0; ch < 2; ch++) {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 4; x++) {
          let sum = 0;
          let cnt = 0;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || yy > 3 || xx < 0 || xx > 3) continue;
              sum += f[ch * 16 + yy * 4 + xx]!;
              cnt++;
            }
          expect(o[ch * 16 + y * 4 + x]).toBeCloseTo(sum / cnt, 5);
        }
      }
    }
    for (let p = 0; p < 16; p++) expect(o[32 + p]).toBeCloseTo(1, 6);
  });

  it('refuses an even pool size', () => {
    const b = createGraph();
    expect(() => patchEmbedding(b, [b.input('x', [1, 1, 4, 4])], { grid: [4, 4], poolSize: 2 })).toThrow(/odd/);
  });
});

describe('greedyCoreset', () => {
  it('covers evenly spaced points within twice the optimal k-center radius', () => {
    const n = 200;
    const pts = Float32Array.from({ length: n }, (_, i) => i);
    for (const k of [5, 10, 40]) {
      const chosen = greedyCoreset(pts, n, 1, k, { projectDim: 0, seed: 3 });
      expect(new Set(chosen).size).toBe(k);
      let radius = 0;
      for (let i = 0; i < n; i++) radius = Math.max(radius, Math.min(...Array.from(chosen, (c) => Math.abs(i - c))));
      const optimal = Math.ceil((n / k - 1) / 2); // k centres, each covering 2r + 1 consecutive points
      expect(radius).toBeLessThanOrEqual(2 * optimal);
    }
  });

  it('takes one point from each far-apart cluster before a second from any', () => {
    const centres = [
      [0, 0],
      [100, 0],
      [0, 100],
      [100, 100],
    ];
    const pts: number[] = [];
    for (const [x, y] of centres) for (let i = 0; i < 50; i++) pts.push(x! + rng.normal(), y! + rng.normal());
    const chosen = greedyCoreset(Float32Array.from(pts), 200, 2, 4, { projectDim: 0 });
    expect(new Set(Array.from(chosen, (i) => Math.floor(i / 50))).size).toBe(4);
  });

  it('keeps every point when k is not smaller than the count', () => {
    expect(Array.from(greedyCoreset(new Float32Array(6), 3, 2, 5))).toEqual([0, 1, 2]);
  });
});

describe('createBankBuilder', () => {
  it('stores patches as columns [C, M] with their squared norms', () => {
    const bb = createBankBuilder({ channels: 2 });
    // [N=1, C=2, h=1, w=3]: patches (1, 4), (2, 5), (3, 6)
    bb.add(Float32Array.from([1, 2, 3, 4, 5, 6]), 1, 1, 3);
    const bank = bb.finish({ size: 10, subsampling: 'random' });
    expect(bank.size).toBe(3);
    expect(Array.from(bank.bank)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(bank.sqNorm)).toEqual([17, 29, 45]);
  });

  it('keeps at most maxCandidates patches (reservoir) and subsamples to the asked size', () => {
    const bb = createBankBuilder({ channels: 1, maxCandidates: 50, seed: 1 });
    const values = Float32Array.from({ length: 1000 }, (_, i) => i);
    bb.add(values, 1, 10, 100);
    expect(bb.seen).toBe(1000);
    for (const subsampling of ['random', 'greedy'] as const) {
      const bank = bb.finish({ size: 20, subsampling });
      expect(bank.size).toBe(20);
      expect(new Set(bank.bank).size).toBe(20);
      // reservoir sampling spreads over the whole stream, not only its first 50 values
      expect(Math.max(...bank.bank)).toBeGreaterThan(200);
    }
  });

  it('names a wrong embedding size', () => {
    expect(() => createBankBuilder({ channels: 3 }).add(new Float32Array(10), 1, 2, 2)).toThrow(/10 values are not \[1, 3, 2, 2\]/);
  });
});
