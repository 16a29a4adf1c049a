import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from './rng.js';
import { fillBernoulliLanes, fillNormalLanes, laneKernel } from './rng-lanes.js';
import { ZIGGURAT, zigguratEdge } from './ziggurat.js';

const word = (rng: Rng) => rng.uniform() * 4294967296;
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** The four lanes and the scalar generator as rng.ts's Xoshiro, seeded as a fill seeds them. */
function generators(seed: number): { lanes: Rng[]; scalar: Rng } {
  const rng = createRng(seed);
  const words = Array.from({ length: 20 }, () => word(rng));
  const at = (i: number) => createRng({ s: [words[i]!, words[i + 1]!, words[i + 2]!, words[i + 3]!], spare: null });
  return { lanes: [0, 4, 8, 12].map(at), scalar: at(16) };
}

describe('rng-lanes', () => {
  it('runs the WebAssembly kernel on Node 20', () => {
    expect(laneKernel()?.kind).toBe('wasm');
  });

  it('lane k is xoshiro128** seeded with words 4k..4k+3 of the Rng: bernoulli bytes, ties from the scalar generator (words 16-19)', () => {
    // p = 1.5 / 256: bytes 0 hit, 1 ties (settled by frac = 0.5), the rest miss
    const n = 16 * 600 + 7;
    for (const kind of ['ts', 'wasm'] as const) {
      const out = fillBernoulliLanes(createRng(11), new Float32Array(n), 1.5 / 256, 2, -3, kind);
      const { lanes, scalar } = generators(11);
      const expected = new Float32Array(n);
      let ties = 0;
      for (let v = 0; 16 * v < n; v++) {
        const words = lanes.map(word);
        for (let b = 0; b < 16 && 16 * v + b < n; b++) {
          const byte = (words[b >> 2]! >>> (8 * (b & 3))) & 255;
          if (byte === 1) ties++;
          expected[16 * v + b] = byte < 1 ? 2 : byte > 1 ? -3 : word(scalar) < 0.5 * 4294967296 ? 2 : -3;
        }
      }
      expect(ties).toBeGreaterThan(20);
      expect(same(out, expected)).toBe(true);
    }
  });

  it('lane k gives normal 4v + k: inside the rectangles from the lane, the edges from the scalar generator', () => {
    const n = 4 * 3000 + 3;
    const { lanes, scalar } = generators(5);
    const source = { nextWord: () => word(scalar) };
    const { kn, wn } = ZIGGURAT;
    const out = fillNormalLanes(createRng(5), new Float32Array(n), 0.25, 3);
    const expected = new Float32Array(n);
    let edges = 0;
    for (let i = 0; i < n; i++) {
      const hz = word(lanes[i % 4]!) | 0;
      const iz = hz & 127;
      const inside = Math.abs(hz) < kn[iz]!;
      if (!inside) edges++;
      expected[i] = 0.25 + 3 * (inside ? hz * wn[iz]! : zigguratEdge(source, hz, iz));
    }
    expect(same(out, expected)).toBe(true);
    // ~1 in 80 values are edges
    expect(edges).toBeGreaterThan(50);
    expect(edges).toBeLessThan(400);
  });

  it('the WebAssembly kernel and its TypeScript twin agree bit for bit and leave the Rng in the same state', () => {
    for (const [p, hit, miss] of [
      [0.1, 0, 1 / 0.9],
      [0.5, 1, 0],
      [0.999, Number.NaN, 7],
      [0, 1, 0],
    ] as const) {
      const [ra, rb] = [createRng(3), createRng(3)];
      const a = fillBernoulliLanes(ra, new Float32Array(40_001), p, hit, miss, 'ts');
      const b = fillBernoulliLanes(rb, new Float32Array(40_001), p, hit, miss, 'wasm');
      expect(same(a, b)).toBe(true);
      expect(ra.state()).toEqual(rb.state());
    }
    const [ra, rb] = [createRng(4), createRng(4)];
    const a = fillNormalLanes(ra, new Float32Array(70_001), -1, 0.5, 'ts');
    const b = fillNormalLanes(rb, new Float32Array(70_001), -1, 0.5, 'wasm');
    expect(same(a, b)).toBe(true);
    expect(ra.state()).toEqual(rb.state());
  });

  it('draws Bernoulli(p) across chunks, the ties included', () => {
    const n = 1_000_003;
    for (const p of [0.1, 1.5 / 256, 0.73]) {
      const out = fillBernoulliLanes(createRng(8), new Float32Array(n), p);
      const hits = out.reduce((s, v) => s + v, 0);
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(hits - n * p)).toBeLessThan(5 * sd);
    }
    expect(fillBernoulliLanes(createRng(1), new Float32Array(5), 1, 4, 0).every((v) => v === 4)).toBe(true);
    expect(() => fillBernoulliLanes(createRng(1), new Float32Array(5), 1.5)).toThrow(/p must be in \[0, 1\], got 1.5/);
  });

  it('draws standard normals: moments, the wedges and the tail beyond R', () => {
    const n = 2_000_001;
    const out = fillNormalLanes(createRng(9), new Float32Array(n));
    let sum = 0;
    let sq = 0;
    let tail = 0;
    let band = 0;
    for (const z of out) {
      sum += z;
      sq += z * z;
      if (Math.abs(z) > 3.442619855899) tail++;
      if (Math.abs(z) > 1 && Math.abs(z) < 2) band++;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sq / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // P(|z| > R) = 5.76e-4 and P(1 < |z| < 2) = 0.2718 (normal tables)
    expect(Math.abs(tail / n - 5.7622e-4)).toBeLessThan(5 * Math.sqrt(5.76e-4 / n));
    expect(Math.abs(band / n - 0.27181)).toBeLessThan(5 * Math.sqrt((0.2718 * 0.7282) / n));
  });

  it('a restored Rng state draws the same values again', () => {
    const rng = createRng(12);
    fillNormalLanes(rng, new Float32Array(100));
    const saved = rng.state();
    const a = fillBernoulliLanes(rng, new Float32Array(20_000), 0.1, 0, 1 / 0.9);
    const b = fillBernoulliLanes(createRng(saved), new Float32Array(20_000), 0.1, 0, 1 / 0.9);
    expect(same(a, b)).toBe(true);
  });

  it('the embedded module is what rng-lanes.wat compiles to', () => {
    const script = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
