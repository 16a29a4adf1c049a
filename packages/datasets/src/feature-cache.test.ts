import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorData } from '@unias/graph';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, createFeatureCache, type FeatureCacheKey } from './feature-cache.js';
import { makeTempDir } from './testing/fixtures.js';

let dir = '';
let cleanup: () => Promise<void> = async () => {};
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir('cache'));
});
afterEach(() => cleanup());

const KEY: FeatureCacheKey = { backbone: 'wide_resnet50_2', weightsHash: 'sha256:abc', inputSize: [224, 224], normalize: 'imagenet' };

function feats(seed: number): Record<string, TensorData<'float32'>> {
  const a = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(seed + i) * 1e3);
  const b = Float32Array.from({ length: 5 }, (_, i) => seed * 10 + i + 0.125);
  return { layer1: { dtype: 'float32', shape: [2, 3, 4], data: a }, pooled: { dtype: 'float32', shape: [5], data: b } };
}

async function image(name: string, content = 'pixels'): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

describe('createFeatureCache', () => {
  it('misses, stores, then hits with identical tensors', async () => {
    const img = await image('a.png');
    const cache = createFeatureCache({ dir: join(dir, 'cache'), key: KEY });
    expect(await cache.get({ path: img })).toBeNull();
    await cache.put({ path: img }, feats(1));
    const got = await cache.get({ path: img });
    expect(got).toEqual(feats(1));
    expect(cache.stats()).toEqual({ hits: 1, misses: 1, stale: 0, corrupt: 0, writes: 1 });
    // Variants (e.g. augmentation) are separate entries.
    expect(await cache.get({ path: img, variant: { hflip: true } })).toBeNull();
    let computed = 0;
    const compute = async (): Promise<Record<string, TensorData<'float32'>>> => {
      computed++;
      return feats(2);
    };
    expect((await cache.getOrCompute({ path: img, variant: { hflip: true } }, compute)).hit).toBe(false);
    const again = await cache.getOrCompute({ path: img, variant: { hflip: true } }, compute);
    expect(again.hit).toBe(true);
    expect(again.tensors).toEqual(feats(2));
    expect(computed).toBe(1);
  });

  it('invalidates when the image changes (mtime or size) and when the key changes', async () => {
    const img = await image('b.png');
    const cache = createFeatureCache({ dir: join(dir, 'cache'), key: KEY });
    await cache.put({ path: img }, feats(1));
    await utimes(img, new Date(2020, 1, 1), new Date(2020, 1, 1));
    expect(await cache.get({ path: img })).toBeNull();
    expect(cache.stats().stale).toBe(1);
    await cache.put({ path: img }, feats(3));
    expect(await cache.get({ path: img })).toEqual(feats(3));
    await writeFile(img, 'other pixels, longer');
    expect(await cache.get({ path: img })).toBeNull();
    // Another backbone, weights or input size is another namespace: never read across.
    await cache.put({ path: img }, feats(4));
    for (const key of [
      { ...KEY, weightsHash: 'sha256:def' },
      { ...KEY, inputSize: 256 },
      { ...KEY, backbone: 'efficientnet_b4' },
    ]) {
      const other = createFeatureCache({ dir: join(dir, 'cache'), key });
      expect(other.namespace).not.toBe(cache.namespace);
      expect(await other.get({ path: img })).toBeNull();
    }
    // Key field order does not matter.
    const reordered = createFeatureCache({
      dir: join(dir, 'cache'),
      key: { normalize: 'imagenet', inputSize: [224, 224], weightsHash: 'sha256:abc', backbone: 'wide_resnet50_2' },
    });
    expect(reordered.namespace).toBe(cache.namespace);
    expect(await reordered.get({ path: img })).toEqual(feats(4));
  });

  it('content fingerprints survive a touch but not an edit', async () => {
    const img = await image('c.png', 'abc');
    const cache = createFeatureCache({ dir: join(dir, 'cache'), key: KEY, fingerprint: 'content' });
    await cache.put({ path: img }, feats(1));
    await utimes(img, new Date(2021, 1, 1), new Date(2021, 1, 1));
    expect(await cache.get({ path: img })).toEqual(feats(1));
    await writeFile(img, 'abd');
    expect(await cache.get({ path: img })).toBeNull();
  });

  it('reports entries and bytes per namespace, prunes other keys, and drops corrupt entries', async () => {
    const imgs = await Promise.all(['d.png', 'e.png', 'f.png'].map((n) => image(n)));
    const cache = createFeatureCache({ dir: join(dir, 'cache'), key: KEY });
    for (const [i, p] of imgs.entries()) await cache.put({ path: p }, feats(i));
    const old = createFeatureCache({ dir: join(dir, 'cache'), key: { ...KEY, weightsHash: 'old' } });
    await old.put({ path: imgs[0]! }, feats(9));
    const report = await cache.report();
    expect(report.entries).toBe(3);
    expect(report.bytes).toBeGreaterThan(3 * (24 + 5) * 4);
    expect(report.key).toEqual(JSON.parse(canonicalJson(KEY)));
    expect(report.otherNamespaces).toEqual([
      { namespace: old.namespace, key: expect.objectContaining({ weightsHash: 'old' }), entries: 1, bytes: expect.any(Number) },
    ]);
    expect(JSON.parse(await readFile(join(cache.dir, 'key.json'), 'utf8'))).toEqual(JSON.parse(canonicalJson(KEY)));
    expect(await cache.pruneOtherNamespaces()).toBe(1);
    expect((await cache.report()).otherNamespaces).toEqual([]);
    // Truncate one entry: it reads as a miss, is counted and removed.
    const sub = (await readdir(cache.dir)).filter((n) => n !== 'key.json');
    const files = (await Promise.all(sub.map(async (s) => (await readdir(join(cache.dir, s))).map((f) => join(cache.dir, s, f))))).flat();
    const victim = files[0]!;
    await writeFile(victim, (await readFile(victim)).subarray(0, 20));
    const results = await Promise.all(imgs.map((p) => cache.get({ path: p })));
    expect(results.filter((r) => r === null)).toHaveLength(1);
    expect(cache.stats().corrupt).toBe(1);
    expect((await cache.report()).entries).toBe(2);
    // One flipped bit in another entry's features: caught by its checksum, dropped, not served.
    const other = files[1]!;
    const bytes = await readFile(other);
    bytes[bytes.length - 2]! ^= 0x01;
    await writeFile(other, bytes);
    const again = await Promise.all(imgs.map((p) => cache.get({ path: p })));
    expect(again.filter((r) => r === null)).toHaveLength(2);
    expect(cache.stats().corrupt).toBe(2);
    expect((await cache.report()).entries).toBe(1);
    await cache.clear();
    expect((await cache.report()).entries).toBe(0);
  });

  it('names a source image it cannot fingerprint, and refuses non-float32 tensors', async () => {
    const cache = createFeatureCache({ dir: join(dir, 'cache'), key: KEY });
    await expect(cache.get({ path: join(dir, 'missing.png') })).rejects.toThrow(/missing\.png \(ENOENT\)/);
    const img = await image('g.png');
    await expect(cache.put({ path: img }, { x: { dtype: 'int32', shape: [1], data: Int32Array.from([1]) } } as never)).rejects.toThrow(/"x" is int32/);
  });
});
