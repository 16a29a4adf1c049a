import { describe, expect, it } from 'vitest';
import { createGraph } from './builder.js';
import { drawRandom, drawRandomFeeds } from './random-feeds.js';
import { fillBernoulliLanes, fillNormalLanes } from './rng-lanes.js';
import { createRng, type Rng, type RngState } from './rng.js';

/** xoshiro128** from its definition, in BigInt arithmetic: an independent path for the raw words. */
function referenceWords(state: readonly [number, number, number, number], n: number): number[] {
  const m = 0xffffffffn;
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & m;
  let [s0, s1, s2, s3] = state.map(BigInt) as [bigint, bigint, bigint, bigint];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(Number((rotl((s1 * 5n) & m, 7n) * 9n) & m));
    const t = (s1 << 9n) & m;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11n);
  }
  return out;
}

/**
 * fillBernoulli's definition, one value at a time from uniform()'s words: bytes lowest first, four
 * per word; a byte equal to floor(256p) compares the next word with frac(256p).
 */
function referenceBernoulli(rng: Rng, n: number, p: number, hit: number, miss: number): Float32Array {
  const out = new Float32Array(n);
  const tie = Math.floor(p * 256);
  for (let i = 0; i < n; i += 4) {
    let word = rng.uniform() * 4294967296;
    for (let k = 0; k < 4 && i + k < n; k++) {
      const byte = word % 256;
      word = Math.floor(word / 256);
      out[i + k] = byte < tie ? hit : byte > tie ? miss : rng.uniform() < p * 256 - tie ? hit : miss;
    }
  }
  return out;
}

const STATE: RngState = { s: [1, 2, 3, 4], spare: null };
// lengths around the fills' 4096-word blocks, odd ones leaving a Box-Muller spare behind
const LENGTHS = [0, 1, 2, 7, 4095, 4096, 4097, 8193, 10001];

describe('createRng (xoshiro128**)', () => {
  it('draws the words of the algorithm: 11520 first from state (1, 2, 3, 4), then the reference', () => {
    const words = referenceWords(STATE.s, 50);
    expect(words[0]).toBe(11520); // rotl(2 * 5, 7) * 9
    const rng = createRng(STATE);
    expect(Array.from({ length: 50 }, () => rng.uniform() * 4294967296)).toEqual(words);
  });

  for (const n of LENGTHS) {
    it(`fills ${n} numbers exactly as the one-at-a-time methods do, leaving the same state`, () => {
      for (const start of [STATE, { s: [7, 11, 13, 17], spare: 0.25 } satisfies RngState]) {
        const one = createRng(start);
        const block = createRng(start);
        const uniform = Float32Array.from({ length: n }, () => -2 + 5 * one.uniform());
        const dropout = referenceBernoulli(one, n, 0.1, 0, 1 / 0.9);
        const normal = Float32Array.from({ length: n }, () => 3 + 0.5 * one.normal());
        expect(block.fillUniform(new Float32Array(n), -2, 3)).toEqual(uniform);
        expect(block.fillBernoulli(new Float32Array(n), 0.1, 0, 1 / 0.9)).toEqual(dropout);
        expect(block.fillNormal(new Float32Array(n), 3, 0.5)).toEqual(normal);
        expect(block.state()).toEqual(one.state());
      }
    });
  }

  it('fillBernoulli: hits at rate p, the byte ties resolved by a further word (exact rates 0 and 1)', () => {
    const n = 4_000_000;
    const rate = (p: number) =>
      createRng(21)
        .fillBernoulli(new Float32Array(n), p)
        .reduce((a, v) => a + v, 0) / n;
    // p = 25.5 / 256: ties always hit or always miss would be 13 sd off
    for (const p of [0.1, 25.5 / 256, 0.5, 0.73]) expect(Math.abs(rate(p) - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    expect(rate(0)).toBe(0);
    expect(rate(1)).toBe(1);
    for (const p of [25.5 / 256, 0.5, 1, 0]) {
      for (const len of [5, 4097, 10001]) {
        const block = createRng(9);
        const one = createRng(9);
        expect(block.fillBernoulli(new Float32Array(len), p, 2, -1)).toEqual(referenceBernoulli(one, len, p, 2, -1));
        expect(block.state()).toEqual(one.state());
      }
    }
    expect(() => createRng(1).fillBernoulli(new Float32Array(4), 1.5)).toThrow(/fillBernoulli: p must be in \[0, 1\], got 1.5/);
  });

  it('fillBernoulli: the same numbers into an array that is not 8-byte aligned, for NaN values, and with p changing between fills', () => {
    const block = createRng(13);
    const one = createRng(13);
    for (const [p, hit, miss] of [
      [0.1, 0, 1 / 0.9],
      [0.3, -0, 3],
      [0.1, 0, 1 / 0.9],
      [0.2, Number.NaN, 1],
      [0.7, 5, Number.NEGATIVE_INFINITY],
    ] as const) {
      for (const len of [4097, 10001]) {
        // offset 4 bytes: the pair loop's float64 view cannot start there
        const unaligned = new Float32Array(len + 1).subarray(1);
        expect(block.fillBernoulli(unaligned, p, hit, miss)).toEqual(referenceBernoulli(one, len, p, hit, miss));
        expect(block.fillBernoulli(new Float32Array(len), p, hit, miss)).toEqual(referenceBernoulli(one, len, p, hit, miss));
      }
    }
    expect(block.state()).toEqual(one.state());
  });

  it('keeps a spare normal across fills as normal() does', () => {
    const one = createRng(5);
    const block = createRng(5);
    const expected = Float32Array.from({ length: 6 }, () => one.normal());
    const got = new Float32Array(6);
    got.set(block.fillNormal(new Float32Array(3)), 0);
    got.set(block.fillNormal(new Float32Array(3)), 3);
    expect(got).toEqual(expected);
  });
});

/** erfc to a relative 1.2e-7 (Numerical Recipes' Chebyshev fit): the normal distribution in closed form. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}
const normalCdf = (x: number) => 0.5 * erfc(-x / Math.SQRT2);

describe('fillNormalFast (ziggurat)', () => {
  it('follows the normal distribution: Kolmogorov-Smirnov distance under the 0.1% critical value', () => {
    const n = 100_000;
    const xs = Array.from(createRng(11).fillNormalFast(new Float32Array(n))).sort((a, b) => a - b);
    let d = 0;
    xs.forEach((x, i) => (d = Math.max(d, Math.abs(normalCdf(x) - i / n), Math.abs(normalCdf(x) - (i + 1) / n))));
    expect(d).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('draws the tail beyond the last layer (R = 3.4426) and beyond 4 as often as the distribution', () => {
    const n = 2_000_000;
    const xs = createRng(12).fillNormalFast(new Float32Array(n));
    for (const edge of [3.442619855899, 4]) {
      const expected = n * erfc(edge / Math.SQRT2);
      const count = xs.reduce((c, x) => c + (Math.abs(x) > edge ? 1 : 0), 0);
      // binomial: within 5 standard deviations
      expect(Math.abs(count - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
    const mean = xs.reduce((a, x) => a + x, 0) / n;
    const variance = xs.reduce((a, x) => a + x * x, 0) / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('continues one stream across fills and scales by mean and std', () => {
    const whole = createRng(13).fillNormalFast(new Float32Array(6000));
    const parts = createRng(13);
    const joined = new Float32Array(6000);
    joined.set(parts.fillNormalFast(new Float32Array(1000)), 0);
    joined.set(parts.fillNormalFast(new Float32Array(5000)), 1000);
    expect(joined).toEqual(whole);
    const scaled = createRng(13).fillNormalFast(new Float32Array(6000), 3, 0.5);
    scaled.forEach((v, i) => expect(v).toBeCloseTo(3 + 0.5 * whole[i]!, 5));
  });
});

describe('drawRandom', () => {
  it('draws dropout masks of 0 and 1 / (1 - p), about p of them zero', () => {
    const mask = drawRandom({ kind: 'dropout', p: 0.25 }, [100, 1000], createRng(3)).data;
    const zeros = mask.filter((v) => v === 0).length;
    expect(new Set(mask)).toEqual(new Set([0, Math.fround(1 / 0.75)]));
    // binomial(1e5, 0.25): sd 137, so 6 sd is 820
    expect(Math.abs(zeros - 25_000)).toBeLessThan(820);
  });
});

describe('drawRandomFeeds', () => {
  const g = createGraph({ training: true });
  const x = g.input('x', [2, 3, 5]);
  g.output('y', g.add(g.mul(x, g.randomInput('mask', [2, 3, 5], { kind: 'dropout', p: 0.5 })), g.randomInput('noise', [2, 3, 5], { kind: 'normal' })));
  const graph = g.build();

  it('draws into the given buffers the numbers it would draw into fresh arrays, and refills them', () => {
    const fresh = createRng(9);
    const reused = createRng(9);
    const buffers = new Map<string, Float32Array>();
    const first = drawRandomFeeds(graph, reused, buffers);
    expect(first).toEqual(drawRandomFeeds(graph, fresh));
    const kept = { mask: first['mask']!.data, noise: first['noise']!.data };
    const copy = { mask: Float32Array.from(kept.mask), noise: Float32Array.from(kept.noise) };
    const second = drawRandomFeeds(graph, reused, buffers);
    expect(second).toEqual(drawRandomFeeds(graph, fresh));
    expect(second['mask']!.data).toBe(kept.mask);
    expect(second['noise']!.data).toBe(kept.noise);
    expect(second['noise']!.data).not.toEqual(copy.noise);
  });

  it('rejects a buffer of the wrong size, naming the shape', () => {
    expect(() => drawRandom({ kind: 'normal' }, [2, 3], createRng(1), new Float32Array(5))).toThrow(/5 values for shape \[2, 3\]/);
  });
});

describe('drawRandomFeeds with gated noise', () => {
  const jitterGraph = (gated: boolean) => {
    const g = createGraph({ training: true });
    const x = g.input('x', [1, 3, 5]);
    const noise = g.randomInput('noise', [1, 3, 5], gated ? { kind: 'normal', gate: 'apply' } : { kind: 'normal' });
    const apply = g.randomInput('apply', [1, 1, 1], { kind: 'bernoulli', p: 0.5 });
    const mask = g.randomInput('mask', [1, 3, 5], { kind: 'dropout', p: 0.2 });
    g.output('y', g.mul(g.add(x, g.mul(apply, noise)), mask));
    return g.build();
  };

  it('draws the gate first, then the noise only when it is open: zeros and no words when closed', () => {
    const reference = createRng(4);
    const rng = createRng(4);
    const buffers = new Map<string, Float32Array>();
    const seen = new Set<number>();
    for (let step = 0; step < 12; step++) {
      // the documented order, written out: coin, noise if the coin is 1, then the mask
      const open = reference.uniform() < 0.5 ? 1 : 0;
      const noise = open === 1 ? fillNormalLanes(reference, new Float32Array(15)) : new Float32Array(15);
      const mask = fillBernoulliLanes(reference, new Float32Array(15), 0.2, 0, 1 / 0.8);
      const got = drawRandomFeeds(jitterGraph(true), rng, buffers);
      seen.add(open);
      expect(got['apply']!.data).toEqual(Float32Array.of(open));
      expect(got['noise']!.data).toEqual(noise);
      expect(got['mask']!.data).toEqual(mask);
      expect(rng.state()).toEqual(reference.state());
    }
    expect(seen).toEqual(new Set([0, 1]));
  });

  it('feeds an ungated normal input from fillNormalLanes', () => {
    const got = drawRandomFeeds(jitterGraph(false), createRng(8));
    expect(got['noise']!.data).toEqual(fillNormalLanes(createRng(8), new Float32Array(15)));
  });

  it('rejects a gate that is not the one-element bernoulli input drawn next, naming both', () => {
    const g = createGraph({ training: true });
    const x = g.input('x', [2]);
    g.output('y', g.add(g.mul(g.randomInput('coin', [2], { kind: 'bernoulli', p: 0.5 }), x), g.randomInput('n', [2], { kind: 'normal', gate: 'coin' })));
    expect(() => drawRandomFeeds(g.build(), createRng(1))).toThrow(
      /random input "n": its gate "coin" must be the one-element bernoulli input drawn right after it/,
    );
  });
});
