/**
 * Batches for training and evaluation: seeded shuffling, per-class augmentation, and a bounded queue
 * of batches decoded ahead of the consumer so that decoding overlaps the training step. The position
 * (epoch, batch, the epoch's Rng state) is a small JSON object, so a run resumes exactly.
 */
import { createRng, hashString, type RngState, type TensorData } from '@unias/graph';
import { drawAugmentation, type AugmentationParams, type AugmentationPolicy } from './augment.js';
import type { DecodedSample, SampleReader } from './reader.js';
import type { Sample } from './types.js';

export interface Batch {
  /** `[B, 3, H, W]` float32. */
  readonly images: TensorData<'float32'>;
  /** `[B, 1, H, W]`, 0/1: float32, or `bool` (a Uint8Array) when `maskDtype` is `uint8`. */
  readonly masks: TensorData<'float32'> | TensorData<'bool'>;
  /** `[B]` int32, 1 = defective. */
  readonly labels: TensorData<'int32'>;
  /** Per sample: false when a defective image has no mask (its mask plane is zeros but unknown). */
  readonly maskKnown: readonly boolean[];
  readonly classNames: readonly string[];
  readonly defectTypes: readonly string[];
  readonly paths: readonly string[];
  readonly augmentations: readonly AugmentationParams[];
  readonly epoch: number;
  /** Index of this batch within its epoch. */
  readonly step: number;
  readonly lastInEpoch: boolean;
}

/** Where the loader stands; JSON-serialisable. `batch` is the next batch to be delivered. */
export interface BatchLoaderState {
  readonly version: 1;
  readonly epoch: number;
  readonly batch: number;
  /** The Rng state at the start of `epoch` (before its shuffle), so the epoch's order can be rebuilt. */
  readonly epochRng: RngState;
  /** Guards against resuming on another sample list or batch size. */
  readonly fingerprint: string;
}

export interface BatchLoaderOptions {
  readonly samples: readonly Sample[];
  readonly reader: SampleReader;
  readonly batchSize: number;
  /** Shuffle the order every epoch (default true). */
  readonly shuffle?: boolean;
  readonly seed?: number;
  /** Per-class augmentation; none when omitted. */
  readonly augmentation?: AugmentationPolicy;
  /** Drop a last batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** Batches decoded ahead of the one being consumed (default 2; 0 decodes on demand). */
  readonly prefetch?: number;
  /** Decodes in flight at once (default 4). */
  readonly concurrency?: number;
  readonly maskDtype?: 'float32' | 'uint8';
  /** Continue from a saved state. */
  readonly resume?: BatchLoaderState;
  /** Called when a sample's decode starts (progress, instrumentation). */
  readonly onDecodeStart?: (sample: Sample, epoch: number, step: number) => void;
}

export interface BatchLoaderStats {
  readonly decodesStarted: number;
  readonly decodesFinished: number;
  readonly batchesDelivered: number;
  /** Batches planned and being decoded or ready, not yet delivered. */
  readonly queued: number;
}

export interface BatchLoader {
  readonly batchesPerEpoch: number;
  /** The next batch; epochs follow one another without end. */
  next(): Promise<Batch>;
  /** The rest of the current epoch, batch by batch. */
  epoch(): AsyncIterable<Batch>;
  /** Position after the last delivered batch. */
  state(): BatchLoaderState;
  stats(): BatchLoaderStats;
  /** Resolves once every queued batch has been decoded (the queue is full and ready). */
  whenPrefetched(): Promise<void>;
  /** Stops planning new batches and waits for decodes in flight. */
  close(): Promise<void>;
}

interface Plan {
  readonly epoch: number;
  readonly step: number;
  readonly last: boolean;
  readonly indices: readonly number[];
  readonly augmentations: readonly AugmentationParams[];
  readonly stateAfter: BatchLoaderState;
}

export function samplesFingerprint(samples: readonly Sample[], batchSize: number, dropLast: boolean): string {
  let h = hashString(`${samples.length}:${batchSize}:${dropLast}`);
  for (const s of samples) h = hashString(`${s.path}|${s.label}|${s.className}`, h);
  return `${samples.length}-${batchSize}-${dropLast ? 'drop' : 'keep'}-${h.toString(16).padStart(8, '0')}`;
}

/** Deterministic sequence of batch plans; a plan depends only on the seed and its position. */
class Planner {
  private epoch: number;
  private step: number;
  private epochRng: RngState;
  private order: number[] = [];
  private augSeed = 0;
  /** The Rng state once this epoch's draws are made: the next epoch starts from it. */
  private nextEpochRng: RngState = { s: [0, 0, 0, 0], spare: null };

  constructor(
    private readonly n: number,
    private readonly batchSize: number,
    readonly batchesPerEpoch: number,
    private readonly shuffle: boolean,
    private readonly classOf: (i: number) => string,
    private readonly policy: AugmentationPolicy,
    private readonly fingerprint: string,
    start: { epoch: number; batch: number; epochRng: RngState },
  ) {
    this.epoch = start.epoch;
    this.step = start.batch;
    this.epochRng = start.epochRng;
    this.prepareEpoch();
  }

  private prepareEpoch(): void {
    const rng = createRng(this.epochRng);
    this.order = Array.from({ length: this.n }, (_, i) => i);
    if (this.shuffle) rng.shuffle(this.order);
    this.augSeed = rng.int(0x7fffffff);
    this.nextEpochRng = rng.state();
  }

  current(): BatchLoaderState {
    return { version: 1, epoch: this.epoch, batch: this.step, epochRng: this.epochRng, fingerprint: this.fingerprint };
  }

  next(): Plan {
    const from = this.step * this.batchSize;
    const to = Math.min(this.n, from + this.batchSize);
    const indices: number[] = [];
    const augmentations: AugmentationParams[] = [];
    for (let pos = from; pos < to; pos++) {
      const idx = this.order[pos]!;
      indices.push(idx);
      augmentations.push(drawAugmentation(createRng(hashString(String(pos), this.augSeed)), this.policy[this.classOf(idx)]));
    }
    const epoch = this.epoch;
    const step = this.step;
    const last = step === this.batchesPerEpoch - 1;
    if (last) {
      this.epoch++;
      this.step = 0;
      this.epochRng = this.nextEpochRng;
      this.prepareEpoch();
    } else {
      this.step++;
    }
    return { epoch, step, last, indices, augmentations, stateAfter: this.current() };
  }
}

class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(n: number) {
    this.free = n;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((res) => this.waiting.push(res));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export function createBatchLoader(options: BatchLoaderOptions): BatchLoader {
  const { samples, reader, batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`createBatchLoader: batchSize must be a positive integer, got ${batchSize}`);
  if (samples.length === 0) throw new Error('createBatchLoader: no samples');
  const dropLast = options.dropLast ?? false;
  const batchesPerEpoch = dropLast ? Math.floor(samples.length / batchSize) : Math.ceil(samples.length / batchSize);
  if (batchesPerEpoch === 0) throw new Error(`createBatchLoader: ${samples.length} samples make no full batch of ${batchSize} with dropLast`);
  const fingerprint = samplesFingerprint(samples, batchSize, dropLast);
  const seed = options.seed ?? 0;
  let start = { epoch: 0, batch: 0, epochRng: createRng(seed).state() };
  if (options.resume) {
    const r = options.resume;
    if (r.version !== 1) throw new Error(`createBatchLoader: unknown state version ${String(r.version)}`);
    if (r.fingerprint !== fingerprint)
      throw new Error(`createBatchLoader: saved state is for another sample list or batch size (${r.fingerprint}, here ${fingerprint})`);
    if (!(r.batch >= 0 && r.batch < batchesPerEpoch)) throw new Error(`createBatchLoader: saved batch ${r.batch} is outside 0..${batchesPerEpoch - 1}`);
    start = { epoch: r.epoch, batch: r.batch, epochRng: r.epochRng };
  }
  const planner = new Planner(
    samples.length,
    batchSize,
    batchesPerEpoch,
    options.shuffle ?? true,
    (i) => samples[i]!.className,
    options.augmentation ?? {},
    fingerprint,
    start,
  );
  const prefetch = Math.max(0, Math.floor(options.prefetch ?? 2));
  const sem = new Semaphore(Math.max(1, options.concurrency ?? 4));
  const { height, width } = reader.size;
  const plane = height * width;
  const maskDtype = options.maskDtype ?? 'float32';

  let delivered = planner.current();
  let decodesStarted = 0;
  let decodesFinished = 0;
  let batchesDelivered = 0;
  let closed = false;
  const queue: Array<{ plan: Plan; batch: Promise<Batch> }> = [];

  const decodeOne = async (sample: Sample, aug: AugmentationParams, plan: Plan): Promise<DecodedSample> => {
    await sem.acquire();
    try {
      decodesStarted++;
      options.onDecodeStart?.(sample, plan.epoch, plan.step);
      return await reader.read(sample, aug);
    } finally {
      decodesFinished++;
      sem.release();
    }
  };

  const assemble = async (plan: Plan): Promise<Batch> => {
    const picked = plan.indices.map((i) => samples[i]!);
    const decoded = await Promise.all(picked.map((s, k) => decodeOne(s, plan.augmentations[k]!, plan)));
    const b = picked.length;
    const images = new Float32Array(b * 3 * plane);
    const maskData = maskDtype === 'float32' ? new Float32Array(b * plane) : new Uint8Array(b * plane);
    decoded.forEach((d, k) => {
      images.set(d.image, k * 3 * plane);
      maskData.set(d.mask, k * plane);
    });
    const masks: TensorData<'float32'> | TensorData<'bool'> =
      maskData instanceof Float32Array
        ? { dtype: 'float32', shape: [b, 1, height, width], data: maskData }
        : { dtype: 'bool', shape: [b, 1, height, width], data: maskData };
    return {
      images: { dtype: 'float32', shape: [b, 3, height, width], data: images },
      masks,
      labels: { dtype: 'int32', shape: [b], data: Int32Array.from(picked, (s) => s.label) },
      maskKnown: decoded.map((d) => d.maskKnown),
      classNames: picked.map((s) => s.className),
      defectTypes: picked.map((s) => s.defectType),
      paths: picked.map((s) => s.path),
      augmentations: plan.augmentations,
      epoch: plan.epoch,
      step: plan.step,
      lastInEpoch: plan.last,
    };
  };

  const enqueue = (): void => {
    const plan = planner.next();
    const batch = assemble(plan);
    // The consumer sees the error when it asks for this batch; until then it must not be "unhandled".
    batch.catch(() => undefined);
    queue.push({ plan, batch });
  };

  const topUp = (): void => {
    while (!closed && queue.length < prefetch) enqueue();
  };

  topUp();

  const next = async (): Promise<Batch> => {
    if (closed) throw new Error('batch loader is closed');
    if (queue.length === 0) enqueue();
    const head = queue.shift()!;
    topUp();
    const batch = await head.batch;
    delivered = head.plan.stateAfter;
    batchesDelivered++;
    return batch;
  };

  return {
    batchesPerEpoch,
    next,
    epoch() {
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const b = await next();
            yield b;
            if (b.lastInEpoch) return;
          }
        },
      };
    },
    state: () => delivered,
    stats: () => ({ decodesStarted, decodesFinished, batchesDelivered, queued: queue.length }),
    async whenPrefetched() {
      await Promise.allSettled(queue.map((q) => q.batch));
    },
    async close() {
      closed = true;
      await Promise.allSettled(queue.map((q) => q.batch));
      queue.length = 0;
    },
  };
}
