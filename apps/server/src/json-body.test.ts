import { describe, expect, it } from 'vitest';
import { createJsonParser, jsonNestingExceeds } from './json-body.js';

/** The nesting depth of a parsed value: the independent truth for the byte scanner. */
function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

/** Replaces Float64Arrays (packed off-thread) by plain arrays, to compare with JSON.parse. */
function unpack(v: unknown): unknown {
  if (v instanceof Float64Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(unpack);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unpack(x)]));
  return v;
}

describe('jsonNestingExceeds', () => {
  it('agrees with the depth of the parsed value, and skips brackets inside strings', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
    const gen = (d: number): unknown => {
      const r = rnd();
      if (d > 6 || r < 0.3) return r < 0.1 ? 'a[{"\\]' : r < 0.2 ? 1.5 : null;
      if (r < 0.65) return Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => gen(d + 1));
      return Object.fromEntries(Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => [`k${i}[`, gen(d + 1)]));
    };
    for (let i = 0; i < 200; i++) {
      const v = gen(0);
      const bytes = Buffer.from(JSON.stringify(v));
      const d = depthOf(v);
      expect(jsonNestingExceeds(bytes, d)).toBe(false);
      if (d > 0) expect(jsonNestingExceeds(bytes, d - 1)).toBe(true);
    }
  });
});

describe('createJsonParser', () => {
  it('gives the same value on and off the event loop (numbers packed off it), and the same errors', async () => {
    const parser = createJsonParser({ maxDepth: 8, offThreadBytes: 64, workerHeapMb: 64 });
    try {
      const value = {
        id: 'x',
        inputs: [
          {
            shape: [2, 2],
            data: [
              [0.1, 2, -3e-7, 4, 5, 6, 7, 8],
              [5, 6, 7, 8, 9, 1e300, 0, -0.5, 2 ** 60],
            ],
            mixed: [1, 'a', 2, 3, 4, 5, 6, 7],
          },
        ],
        deep: [[[1]]],
      };
      const text = JSON.stringify(value);
      expect(text.length).toBeGreaterThan(64);
      const off = await parser.parse(Buffer.from(text), 'the body');
      expect((off as { inputs: { data: unknown[] }[] }).inputs[0]!.data[0]).toBeInstanceOf(Float64Array);
      expect(unpack(off)).toEqual(JSON.parse(text));
      const small = await parser.parse(Buffer.from('[1,2]'), 'the body');
      expect(small).toEqual([1, 2]);
      await expect(parser.parse(Buffer.from('{"a": [1, 2' + ' '.repeat(100)), 'the body')).rejects.toThrow(/malformed JSON in the body/);
      await expect(parser.parse(Buffer.from('['.repeat(9) + ']'.repeat(9) + ' '.repeat(100)), 'the body')).rejects.toThrow(
        /nests arrays or objects deeper than 8 levels/,
      );
      await expect(parser.parse(Buffer.from('['.repeat(9) + ']'.repeat(9)), 'the body')).rejects.toThrow(/deeper than 8 levels/);
    } finally {
      await parser.close();
    }
  });

  it('a body that needs more heap than the worker has gets 413, and the next parse works', async () => {
    const parser = createJsonParser({ maxDepth: 8, offThreadBytes: 1024, workerHeapMb: 16 });
    try {
      // A million tiny objects: tens of MB of heap from 8 MB of text.
      const body = Buffer.from(`[${'{"a":1},'.repeat(1_000_000)}{}]`);
      const error = await parser.parse(body, 'the body').catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 413, message: expect.stringMatching(/needs more than the JSON parser's 16 MB/) });
      const ok = await parser.parse(Buffer.from(`[${'1,'.repeat(1000)}1]`), 'the body');
      expect(unpack(ok)).toEqual(new Array(1001).fill(1));
    } finally {
      await parser.close();
    }
  });
});
