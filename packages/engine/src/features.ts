/**
 * Frozen-backbone features for training: the backbone runs once per (image, augmentation variant)
 * and its outputs (`target.<tap>`, `decoder_input.<tap>`) are kept in @unias/datasets' disk cache.
 * The batch loader is given a reader that fetches features instead of pixels: on a cache hit the
 * image is not even decoded. The backbone always runs on one image at a time, so a feature does not
 * depend on which batch computed it (a resumed run reads the same numbers).
 */
import {
  createFeatureCache,
  createSampleReader,
  isIdentity,
  type AugmentationParams,
  type FeatureCache,
  type Sample,
  type SampleReader,
} from '@unias/datasets';
import { buildFeatureGraph, type ResolvedConfig } from '@unias/model';
import type { Backend, Session, TensorData } from '@unias/graph';

export type FeatureSet = Record<string, TensorData<'float32'>>;

export interface FeatureSourceOptions {
  readonly backend: Backend;
  readonly config: ResolvedConfig;
  readonly backboneParams: ReadonlyMap<string, TensorData>;
  readonly backboneHash: string;
  readonly cacheDir: string;
}

export interface FeatureSource {
  /** A reader for the batch loader: it returns empty pixels and stashes the sample's features. */
  readonly reader: SampleReader;
  /** Feeds of the training graph for a delivered batch (its paths and augmentations, in order). */
  take(paths: readonly string[], augmentations: readonly AugmentationParams[]): Record<string, TensorData>;
  readonly cache: FeatureCache;
  /** Names of the feature tensors (graph inputs). */
  readonly names: readonly string[];
  dispose(): Promise<void>;
}

function variantOf(a: AugmentationParams): string | null {
  return isIdentity(a) ? null : `h${a.hflip ? 1 : 0}v${a.vflip ? 1 : 0}r${a.quarterTurns}`;
}

function stashKey(path: string, a: AugmentationParams): string {
  return `${path}\u0000${variantOf(a) ?? ''}`;
}

export async function createFeatureSource(o: FeatureSourceOptions): Promise<FeatureSource> {
  const { config } = o;
  const [h, w] = config.inputSize;
  const graph = buildFeatureGraph(config, { batch: 1 });
  const names = [...graph.outputs.keys()];
  const session: Session = await o.backend.prepare(graph, { params: o.backboneParams });
  const cache = createFeatureCache({
    dir: o.cacheDir,
    key: {
      backbone: config.backbone.id,
      weightsHash: o.backboneHash,
      inputSize: [h, w],
      taps: config.taps.map((t) => t.name),
      input: 'rgb-unit',
      format: 'unias-cli-features/1',
    },
  });
  const pixels = createSampleReader({ size: { width: w, height: h }, normalize: 'none' });
  const emptyImage = new Float32Array(3 * h * w);
  const emptyMask = new Uint8Array(h * w);
  const stash = new Map<string, FeatureSet[]>();

  const compute = async (sample: Sample, aug: AugmentationParams): Promise<FeatureSet> => {
    const d = await pixels.read(sample, aug);
    const out = await session.run({ image: { dtype: 'float32', shape: [1, 3, h, w], data: d.image } });
    const set: FeatureSet = {};
    for (const n of names) {
      const t = out[n]!;
      set[n] = { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.data as ArrayLike<number>) };
    }
    return set;
  };

  // Two reads of one entry at once (the same image in adjacent prefetched batches) share one
  // lookup: @unias/graph's writeFileAtomic names its temporary file by pid and millisecond, so two
  // writes of one file at once can collide. For the same reason the very first lookup (which also
  // writes the cache's key.json) runs alone.
  const inflight = new Map<string, Promise<FeatureSet>>();
  let first: Promise<unknown> | null = null;
  const lookup = (sample: Sample, a: AugmentationParams): Promise<FeatureSet> => {
    const key = stashKey(sample.path, a);
    let p = inflight.get(key);
    if (!p) {
      p = cache.getOrCompute({ path: sample.path, variant: variantOf(a) }, () => compute(sample, a)).then((r) => r.tensors as FeatureSet);
      inflight.set(key, p);
      void p.finally(() => inflight.delete(key)).catch(() => undefined);
    }
    return p;
  };

  const reader: SampleReader = {
    size: { width: w, height: h },
    normalize: 'none',
    async read(sample, aug) {
      const a = aug ?? { hflip: false, vflip: false, quarterTurns: 0 };
      let tensors: FeatureSet;
      if (first === null) {
        const p = lookup(sample, a);
        first = p.catch(() => undefined);
        tensors = await p;
      } else {
        await first;
        tensors = await lookup(sample, a);
      }
      const key = stashKey(sample.path, a);
      const list = stash.get(key) ?? [];
      list.push(tensors);
      stash.set(key, list);
      return { image: emptyImage, mask: emptyMask, maskKnown: true, width: w, height: h, augmentation: a };
    },
  };

  return {
    reader,
    cache,
    names,
    take(paths, augmentations) {
      const sets = paths.map((p, i) => {
        const key = stashKey(p, augmentations[i]!);
        const list = stash.get(key);
        const set = list?.shift();
        if (!set) throw new Error(`internal: no features were read for ${p}`);
        if (list!.length === 0) stash.delete(key);
        return set;
      });
      const feeds: Record<string, TensorData> = {};
      for (const n of names) {
        const first = sets[0]![n]!;
        const per = first.data.length;
        const data = new Float32Array(per * sets.length);
        sets.forEach((s, i) => data.set(s[n]!.data as Float32Array, i * per));
        feeds[n] = { dtype: 'float32', shape: [sets.length, ...first.shape.slice(1)], data };
      }
      return feeds;
    },
    dispose: () => session.dispose(),
  };
}
