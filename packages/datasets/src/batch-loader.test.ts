import { describe, expect, it } from 'vitest';
import { MVTEC_AUGMENTATION, type AugmentationParams } from './augment.js';
import { createBatchLoader, type Batch, type BatchLoaderState } from './batch-loader.js';
import type { DecodedSample, SampleReader } from './reader.js';
import type { Sample } from './types.js';

const H = 2;
const W = 2;

function samples(n: number, className = 'bottle'): Sample[] {
  return Array.from({ length: n }, (_, i) => ({
    path: `/data/${className}/${String(i).padStart(3, '0')}.png`,
    className,
    split: 'train',
    label: (i % 5 === 4 ? 1 : 0) as 0 | 1,
    defectType: i % 5 === 4 ? 'crack' : 'good',
    maskPath: i % 5 === 4 ? `/m/${i}.png` : null,
  }));
}

/** A reader without I/O: pixel values encode the sample index and augmentation; it counts calls. */
function fakeReader(): SampleReader & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    size: { width: W, height: H },
    normalize: 'none',
    async read(s: Sample, aug?: AugmentationParams): Promise<DecodedSample> {
      calls.push(s.path);
      await Promise.resolve();
      const idx = Number(s.path.slice(-7, -4));
      const code = aug ? (aug.hflip ? 1 : 0) + (aug.vflip ? 2 : 0) + 4 * aug.quarterTurns : 0;
      const image = new Float32Array(3 * H * W).fill(idx + code / 100);
      const mask = new Uint8Array(H * W).fill(s.label);
      return { image, mask, maskKnown: true, width: W, height: H, augmentation: aug ?? { hflip: false, vflip: false, quarterTurns: 0 } };
    },
  };
}

const summary = (b: Batch): string => b.paths.map((p, k) => `${p.slice(-7, -4)}:${JSON.stringify(b.augmentations[k])}`).join(' ');

describe('createBatchLoader', () => {
  it('assembles NCHW batches with masks, labels, class names and paths', async () => {
    const all = samples(5);
    const loader = createBatchLoader({ samples: all, reader: fakeReader(), batchSize: 2, shuffle: false, prefetch: 0 });
    const b = await loader.next();
    expect(b.images.shape).toEqual([2, 3, H, W]);
    expect(b.masks.shape).toEqual([2, 1, H, W]);
    expect(b.masks.dtype).toBe('float32');
    expect(Array.from(b.images.data.subarray(0, 12))).toEqual(new Array(12).fill(0));
    expect(Array.from(b.images.data.subarray(12))).toEqual(new Array(12).fill(1));
    expect(b.paths).toEqual([all[0]!.path, all[1]!.path]);
    expect(b.classNames).toEqual(['bottle', 'bottle']);
    await loader.next();
    const last = await loader.next();
    expect(last.images.shape).toEqual([1, 3, H, W]);
    expect(Array.from(last.labels.data)).toEqual([1]);
    expect(Array.from(last.masks.data)).toEqual([1, 1, 1, 1]);
    expect(last.lastInEpoch).toBe(true);
    expect(loader.batchesPerEpoch).toBe(3);
    const u8 = createBatchLoader({ samples: all, reader: fakeReader(), batchSize: 2, dropLast: true, maskDtype: 'uint8' });
    expect(u8.batchesPerEpoch).toBe(2);
    expect((await u8.next()).masks.dtype).toBe('bool');
  });

  it('shuffles deterministically: a permutation per epoch, the same for the same seed', async () => {
    const all = samples(10);
    const order = async (seed: number, epochs: number): Promise<string[][]> => {
      const loader = createBatchLoader({ samples: all, reader: fakeReader(), batchSize: 3, seed });
      const out: string[][] = [];
      for (let e = 0; e < epochs; e++) {
        const paths: string[] = [];
        for await (const b of loader.epoch()) paths.push(...b.paths);
        out.push(paths);
      }
      await loader.close();
      return out;
    };
    const a = await order(7, 3);
    expect(await order(7, 3)).toEqual(a);
    expect(await order(8, 3)).not.toEqual(a);
    for (const epoch of a) expect([...epoch].sort()).toEqual(all.map((s) => s.path));
    expect(a[0]).not.toEqual(a[1]);
    expect(a[0]).not.toEqual(all.map((s) => s.path));
  });

  it('decodes batches ahead of the consumer, within the queue bound', async () => {
    const reader = fakeReader();
    const loader = createBatchLoader({ samples: samples(40), reader, batchSize: 4, prefetch: 3, concurrency: 2 });
    // Before anyone asks, the first three batches are being decoded...
    await loader.whenPrefetched();
    expect(loader.stats().decodesStarted).toBe(12);
    expect(loader.stats().batchesDelivered).toBe(0);
    // ...and taking one starts the next, so the queue stays three deep while the consumer works.
    await loader.next();
    await loader.whenPrefetched();
    expect(loader.stats()).toEqual({ decodesStarted: 16, decodesFinished: 16, batchesDelivered: 1, queued: 3 });
    await loader.close();
    // Without prefetch nothing is decoded until asked.
    const lazy = createBatchLoader({ samples: samples(40), reader: fakeReader(), batchSize: 4, prefetch: 0 });
    await lazy.whenPrefetched();
    expect(lazy.stats().decodesStarted).toBe(0);
    await lazy.next();
    expect(lazy.stats().decodesStarted).toBe(4);
  });

  it('resumes exactly from a saved state, mid-epoch and across epochs, with augmentation', async () => {
    const all = [...samples(7, 'bottle'), ...samples(4, 'cable')];
    const opts = { samples: all, batchSize: 3, seed: 42, augmentation: MVTEC_AUGMENTATION, prefetch: 2 } as const;
    const a = createBatchLoader({ ...opts, reader: fakeReader() });
    for (let i = 0; i < 5; i++) await a.next();
    const saved: BatchLoaderState = JSON.parse(JSON.stringify(a.state()));
    expect(saved.epoch).toBe(1);
    expect(saved.batch).toBe(1);
    const expected: string[] = [];
    const expectedImages: number[][] = [];
    for (let i = 0; i < 7; i++) {
      const b = await a.next();
      expected.push(summary(b));
      expectedImages.push(Array.from(b.images.data));
    }
    const b = createBatchLoader({ ...opts, reader: fakeReader(), resume: saved });
    for (let i = 0; i < 7; i++) {
      const batch = await b.next();
      expect(summary(batch)).toBe(expected[i]);
      expect(Array.from(batch.images.data)).toEqual(expectedImages[i]);
    }
    // The augmentation was actually exercised, for bottle only (cable has none).
    const augs = expected.join(' ');
    expect(augs).toMatch(/"hflip":true/);
    expect(augs).toMatch(/"quarterTurns":[123]/);
    await a.close();
    await b.close();
    await expect(async () => createBatchLoader({ ...opts, batchSize: 4, reader: fakeReader(), resume: saved })).rejects.toThrow(
      /another sample list or batch size/,
    );
  });

  it('hands a decode error to the consumer of that batch, naming the file', async () => {
    const reader = fakeReader();
    const failing: SampleReader = {
      ...reader,
      async read(s, aug) {
        if (s.path.endsWith('003.png')) throw new Error(`${s.path}: cannot decode image: broken`);
        return reader.read(s, aug);
      },
    };
    const loader = createBatchLoader({ samples: samples(6), reader: failing, batchSize: 2, shuffle: false, prefetch: 2 });
    await loader.next();
    await expect(loader.next()).rejects.toThrow(/003\.png: cannot decode image/);
    expect((await loader.next()).paths).toEqual(['/data/bottle/004.png', '/data/bottle/005.png']);
  });
});
