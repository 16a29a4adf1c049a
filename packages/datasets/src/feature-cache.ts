/**
 * A disk cache of frozen-backbone features, so that epochs after the first skip the backbone.
 *
 * Layout: `DIR/<namespace>/key.json` and `DIR/<namespace>/<h2>/<hash>.safetensors`, where the
 * namespace is a hash of the key object (backbone id, weights hash, input size, and whatever else the
 * caller puts in it, e.g. normalisation) and `hash` is a hash of the entry (image path + variant, e.g.
 * the augmentation). Each file stores named float32 tensors and, in its metadata, the entry and a
 * fingerprint of the source image.
 *
 * Invalidation rule: an entry is used only when (1) its namespace equals the hash of the current key,
 * (2) its stored entry equals the requested one, and (3) its stored source fingerprint equals the
 * image's current one: file size + mtime (`stat`, default) or a SHA-256 of its bytes (`content`).
 * Anything else is a miss; the next `put` overwrites the entry in place. Entries under other keys are
 * never read; `pruneOtherNamespaces` deletes them. A corrupt entry file is deleted and counted.
 * The cache knows nothing of any backbone: it only hashes the key object it is given.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { entryToFloat32, readSafetensorsFile, writeFileAtomic, writeSafetensorsFile, type TensorData, type TensorToWrite } from '@unias/graph';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };

/** What the features depend on, besides the image. Extra fields are hashed too. */
export interface FeatureCacheKey {
  readonly backbone: string;
  readonly weightsHash: string;
  readonly inputSize: number | readonly [number, number];
  readonly [extra: string]: JsonValue;
}

export interface FeatureCacheEntry {
  /** The source image. */
  readonly path: string;
  /** How this image was transformed before the backbone (e.g. augmentation params); part of the entry key. */
  readonly variant?: JsonValue;
}

export interface FeatureCacheOptions {
  readonly dir: string;
  readonly key: FeatureCacheKey;
  /** How a source image is recognised as unchanged (default `stat`: size + mtime). */
  readonly fingerprint?: 'stat' | 'content';
}

export interface FeatureCacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Entries found but made for another version of the image (or a hash collision). */
  readonly stale: number;
  readonly corrupt: number;
  readonly writes: number;
}

export interface NamespaceReport {
  readonly namespace: string;
  readonly key: JsonValue | null;
  readonly entries: number;
  readonly bytes: number;
}

export interface FeatureCacheReport extends NamespaceReport {
  readonly dir: string;
  readonly stats: FeatureCacheStats;
  readonly otherNamespaces: readonly NamespaceReport[];
}

export type FeatureTensors = Readonly<Record<string, TensorData<'float32'>>>;

export interface FeatureCache {
  readonly dir: string;
  readonly namespace: string;
  get(entry: FeatureCacheEntry): Promise<Record<string, TensorData<'float32'>> | null>;
  put(entry: FeatureCacheEntry, tensors: FeatureTensors): Promise<void>;
  /** A hit, or `compute()` stored then returned. */
  getOrCompute(entry: FeatureCacheEntry, compute: () => Promise<FeatureTensors>): Promise<{ tensors: FeatureTensors; hit: boolean }>;
  stats(): FeatureCacheStats;
  report(): Promise<FeatureCacheReport>;
  /** Deletes this namespace's entries. */
  clear(): Promise<void>;
  /** Deletes the entries of every other key; returns how many namespaces went. */
  pruneOtherNamespaces(): Promise<number>;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`feature cache key: ${value} is not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v: JsonValue) => canonicalJson(v)).join(',')}]`;
  const obj = value as { readonly [k: string]: JsonValue };
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k]!)}`).join(',')}}`;
}

function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

const META_ENTRY = 'unias.cache.entry';
const META_SOURCE = 'unias.cache.source';
const META_NAMESPACE = 'unias.cache.namespace';

async function dirSize(dir: string): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { entries, bytes };
  }
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p).catch(() => null);
    if (!st) continue;
    if (st.isDirectory()) {
      const sub = await dirSize(p);
      entries += sub.entries;
      bytes += sub.bytes;
    } else if (n.endsWith('.safetensors')) {
      entries++;
      bytes += st.size;
    }
  }
  return { entries, bytes };
}

async function readKey(nsDir: string): Promise<JsonValue | null> {
  try {
    return JSON.parse(await readFile(join(nsDir, 'key.json'), 'utf8')) as JsonValue;
  } catch {
    return null;
  }
}

export function createFeatureCache(options: FeatureCacheOptions): FeatureCache {
  const root = resolve(options.dir);
  const keyText = canonicalJson(options.key);
  const namespace = sha256(keyText).slice(0, 16);
  const nsDir = join(root, namespace);
  const mode = options.fingerprint ?? 'stat';
  const contentMemo = new Map<string, string>();
  let keyWritten = false;
  let hits = 0;
  let misses = 0;
  let stale = 0;
  let corrupt = 0;
  let writes = 0;

  const entryText = (e: FeatureCacheEntry): string => canonicalJson({ path: resolve(e.path), variant: e.variant ?? null });
  const fileFor = (text: string): string => {
    const h = sha256(text).slice(0, 32);
    return join(nsDir, h.slice(0, 2), `${h}.safetensors`);
  };

  const fingerprint = async (path: string): Promise<string> => {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      throw new Error(`feature cache: cannot fingerprint source image ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (mode === 'stat') return canonicalJson({ size: st.size, mtimeMs: st.mtimeMs });
    const memoKey = `${path}|${st.size}|${st.mtimeMs}`;
    let digest = contentMemo.get(memoKey);
    if (digest === undefined) {
      digest = sha256(await readFile(path));
      contentMemo.set(memoKey, digest);
    }
    return canonicalJson({ sha256: digest });
  };

  const get = async (entry: FeatureCacheEntry): Promise<Record<string, TensorData<'float32'>> | null> => {
    const text = entryText(entry);
    const file = fileFor(text);
    const source = await fingerprint(resolve(entry.path));
    let st;
    try {
      // checksummed: a flipped bit on disk is a corrupt entry (recomputed), never a wrong feature
      st = await readSafetensorsFile(file, { requireChecksums: true });
    } catch (e) {
      const missing = e instanceof Error && /ENOENT/.test(e.message);
      if (missing) misses++;
      else {
        corrupt++;
        await rm(file, { force: true });
      }
      return null;
    }
    if (st.metadata[META_ENTRY] !== text || st.metadata[META_SOURCE] !== source || st.metadata[META_NAMESPACE] !== namespace) {
      stale++;
      return null;
    }
    const out: Record<string, TensorData<'float32'>> = {};
    for (const [name, t] of st.tensors) out[name] = { dtype: 'float32', shape: [...t.shape], data: entryToFloat32(t) };
    hits++;
    return out;
  };

  const put = async (entry: FeatureCacheEntry, tensors: FeatureTensors): Promise<void> => {
    const text = entryText(entry);
    const source = await fingerprint(resolve(entry.path));
    if (!keyWritten) {
      await writeFileAtomic(join(nsDir, 'key.json'), `${JSON.stringify(JSON.parse(keyText), null, 2)}\n`);
      keyWritten = true;
    }
    const toWrite: Record<string, TensorToWrite> = {};
    for (const [name, t] of Object.entries(tensors)) {
      if (t.dtype !== 'float32') throw new Error(`feature cache: tensor "${name}" is ${t.dtype}; only float32 is stored`);
      toWrite[name] = { shape: t.shape, data: t.data, dtype: 'F32' };
    }
    await writeSafetensorsFile(fileFor(text), toWrite, { [META_ENTRY]: text, [META_SOURCE]: source, [META_NAMESPACE]: namespace }, { checksums: true });
    writes++;
  };

  const stats = (): FeatureCacheStats => ({ hits, misses, stale, corrupt, writes });

  return {
    dir: nsDir,
    namespace,
    get,
    put,
    async getOrCompute(entry, compute) {
      const found = await get(entry);
      if (found) return { tensors: found, hit: true };
      const tensors = await compute();
      await put(entry, tensors);
      return { tensors, hit: false };
    },
    stats,
    async report() {
      const own = await dirSize(nsDir);
      const others: NamespaceReport[] = [];
      for (const n of await readdir(root).catch(() => [] as string[])) {
        if (n === namespace) continue;
        const p = join(root, n);
        if (!(await stat(p).catch(() => null))?.isDirectory()) continue;
        others.push({ namespace: n, key: await readKey(p), ...(await dirSize(p)) });
      }
      return { dir: root, namespace, key: JSON.parse(keyText) as JsonValue, ...own, stats: stats(), otherNamespaces: others };
    },
    async clear() {
      await rm(nsDir, { recursive: true, force: true });
      keyWritten = false;
    },
    async pruneOtherNamespaces() {
      let n = 0;
      for (const name of await readdir(root).catch(() => [] as string[])) {
        if (name === namespace) continue;
        const p = join(root, name);
        if (!(await stat(p).catch(() => null))?.isDirectory()) continue;
        // Only delete what looks like one of our namespaces.
        if (!/^[0-9a-f]{16}$/.test(name)) continue;
        await rm(p, { recursive: true, force: true });
        n++;
      }
      return n;
    },
  };
}
