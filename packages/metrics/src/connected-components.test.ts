import { createRng } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { labelComponents } from './connected-components.js';
import { floodFillRegions } from './testing/brute-force.js';

describe('labelComponents', () => {
  it('a diagonal is one region with 8-connectivity and three with 4', () => {
    const mask = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const eight = labelComponents(mask, 3, 3, 8);
    expect(eight.count).toBe(1);
    expect(Array.from(eight.labels)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(eight.sizes[1]).toBe(3);
    const four = labelComponents(mask, 3, 3, 4);
    expect(four.count).toBe(3);
    expect(Array.from(four.labels)).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 3]);
    expect(Array.from(four.sizes)).toEqual([6, 1, 1, 1]);
  });

  it('merges labels that meet later (U shape, anti-diagonal join)', () => {
    const u = [1, 0, 1, 1, 0, 1, 1, 1, 1];
    expect(labelComponents(u, 3, 3, 4).count).toBe(1);
    // Up-right neighbour only: (0,2) and (1,1) touch diagonally.
    const anti = [0, 0, 1, 0, 1, 0, 1, 0, 0];
    expect(labelComponents(anti, 3, 3, 8).count).toBe(1);
    expect(labelComponents(anti, 3, 3, 4).count).toBe(3);
    expect(labelComponents(new Uint8Array(12), 3, 4).count).toBe(0);
  });

  it('matches a flood fill on random masks (labels in raster order)', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 20; trial++) {
      const h = 5 + rng.int(20);
      const w = 5 + rng.int(20);
      const density = 0.2 + 0.4 * rng.uniform();
      const mask = new Uint8Array(h * w).map(() => (rng.uniform() < density ? 1 : 0));
      for (const conn of [4, 8] as const) {
        const got = labelComponents(mask, h, w, conn);
        const want = floodFillRegions(mask, h, w, conn).sort((a, b) => a[0]! - b[0]!);
        expect(got.count).toBe(want.length);
        want.forEach((pixels, r) => {
          expect(got.sizes[r + 1]).toBe(pixels.length);
          for (const i of pixels) expect(got.labels[i]).toBe(r + 1);
        });
      }
    }
  });

  it('refuses a mask of the wrong size', () => {
    expect(() => labelComponents([1, 0], 2, 2)).toThrow(/2 values, 2 x 2 needs 4/);
  });
});
