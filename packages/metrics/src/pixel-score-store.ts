/**
 * Holds a class's pixel scores compactly and replays them as distinct values in descending order.
 *
 * Storage: each pixel becomes an order-preserving uint32 key (4 bytes), kept per image and split into
 * normal and anomalous pixels (so no label byte is stored); anomalous pixels also keep the size of their
 * connected region (for AU-PRO). While adding, a histogram of the keys' top 16 bits is kept.
 *
 * Replay (`sweepStore`) is an exact MSD radix pass: one scatter of the low 16 bits into their top-16
 * bucket (2 bytes per pixel of scratch), then each bucket, from the highest, is resolved into distinct
 * values either with a 65536-slot count table (large buckets) or by sorting it (small ones). No value is
 * binned with another: a bucket plus its low 16 bits is the exact float32 score.
 */
import { bitsToKey, float32Bits, NON_FINITE_EXPONENT } from './float-keys.js';
import { GroupBatch, type ThresholdSweep } from './threshold-sweep.js';

const BUCKETS = 65536;
/** Buckets with at least this many pixels use the count table; smaller ones are sorted. */
const LARGE_BUCKET = 2048;
/** Distinct values handed to the sweep per call. */
const BATCH = 4096;
const TWO32 = 4294967296;
const TWO33 = 8589934592;

export interface ImageKeys {
  /** Keys of the normal pixels (mask 0). */
  readonly negKeys: Uint32Array;
  /** Keys of the anomalous pixels (mask 1). */
  readonly posKeys: Uint32Array;
}

export interface RegionLabels {
  /** Per pixel, the region label (0 = none). */
  readonly labels: Int32Array;
  /** sizes[label] = pixels in the region. */
  readonly sizes: Uint32Array;
}

export class NonFiniteScoreError extends Error {
  constructor(
    readonly index: number,
    readonly value: number,
  ) {
    super(`score ${value} at flat index ${index} is not finite`);
    this.name = 'NonFiniteScoreError';
  }
}

export class PixelScoreStore {
  readonly images: ImageKeys[] = [];
  private readonly posSizes: (Uint32Array | null)[] = [];
  private readonly negHist = new Uint32Array(BUCKETS);
  private readonly posHist = new Uint32Array(BUCKETS);
  negatives = 0;
  positives = 0;
  /** Largest key seen (-1 when empty). */
  maxKey = -1;
  private withSizes: boolean | null = null;

  /**
   * Adds one image's pixels and returns the key of its highest score. `labels` must hold only 0 and 1,
   * `positives` of them 1 (the caller checked and counted); `regions`, when given, labels each anomalous
   * pixel's connected region (read only where the label is 1) and gives each region's size. A NaN or
   * infinite score throws NonFiniteScoreError and leaves the store as it was.
   */
  add(scores: Float32Array, labels: Uint8Array, positives: number, regions: RegionLabels | null): number {
    const n = scores.length;
    if (labels.length !== n) throw new Error(`internal: ${n} scores but ${labels.length} labels`);
    if (this.withSizes === null) this.withSizes = regions !== null;
    else if (this.withSizes !== (regions !== null)) throw new Error('internal: regions given for some images only');
    const bits = float32Bits(scores);
    const p = positives;
    const negKeys = new Uint32Array(n - p);
    const posKeys = new Uint32Array(p);
    const sizes = regions !== null && p > 0 ? new Uint32Array(p) : null;
    const regionOf = regions?.labels;
    const regionSize = regions?.sizes;
    const negHist = this.negHist;
    const posHist = this.posHist;
    let imageMax = -1;
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      let raw = bits[i]!;
      if ((raw & NON_FINITE_EXPONENT) === NON_FINITE_EXPONENT) {
        this.rollback(negKeys.subarray(0, a), posKeys.subarray(0, b));
        throw new NonFiniteScoreError(i, scores[i]!);
      }
      if (raw === 0x80000000) raw = 0; // -0 ties with +0
      const key = bitsToKey(raw);
      if (key > imageMax) imageMax = key;
      if (labels[i] === 1) {
        if (b === p) throw new Error(`internal: more than ${p} anomalous pixels`);
        posKeys[b] = key;
        if (sizes !== null) sizes[b] = regionSize![regionOf![i]!]!;
        b++;
        posHist[key >>> 16]!++;
      } else {
        negKeys[a++] = key;
        negHist[key >>> 16]!++;
      }
    }
    if (b !== p) throw new Error(`internal: ${b} anomalous pixels, expected ${p}`);
    if (imageMax > this.maxKey) this.maxKey = imageMax;
    this.negatives += n - p;
    this.positives += p;
    this.images.push({ negKeys, posKeys });
    this.posSizes.push(sizes);
    return imageMax;
  }

  private rollback(negKeys: Uint32Array, posKeys: Uint32Array): void {
    for (let i = 0; i < negKeys.length; i++) this.negHist[negKeys[i]! >>> 16]!--;
    for (let i = 0; i < posKeys.length; i++) this.posHist[posKeys[i]! >>> 16]!--;
  }

  /** Feeds every distinct stored score, highest first, to `sweep` (token = the score's key). */
  sweepStore(sweep: ThresholdSweep): void {
    const negStart = new Float64Array(BUCKETS + 1);
    const posStart = new Float64Array(BUCKETS + 1);
    for (let k = 0; k < BUCKETS; k++) {
      negStart[k + 1] = negStart[k]! + this.negHist[k]!;
      posStart[k + 1] = posStart[k]! + this.posHist[k]!;
    }
    const negLow = new Uint16Array(this.negatives);
    const posLow = new Uint16Array(this.positives);
    const posSize = this.withSizes === true ? new Uint32Array(this.positives) : null;
    // Scatter the low 16 bits into their buckets.
    const cursor = new Float64Array(BUCKETS);
    cursor.set(negStart.subarray(0, BUCKETS));
    for (const image of this.images) {
      const keys = image.negKeys;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        negLow[cursor[key >>> 16]!++] = key;
      }
    }
    cursor.set(posStart.subarray(0, BUCKETS));
    for (let m = 0; m < this.images.length; m++) {
      const keys = this.images[m]!.posKeys;
      const sizes = this.posSizes[m] ?? null;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const at = cursor[key >>> 16]!++;
        posLow[at] = key;
        if (posSize !== null) posSize[at] = sizes![i]!;
      }
    }

    // Per low-16 value: all pixels, and the anomalous ones (normal = all - anomalous); one array to scan.
    const countAll = new Uint32Array(BUCKETS);
    const countPos = new Uint32Array(BUCKETS);
    const weightPos = new Float64Array(BUCKETS);
    const blockUsed = new Uint32Array(256);
    const scratch = new Float64Array(LARGE_BUCKET);
    const batch = new GroupBatch(BATCH);
    const { tokens: outToken, neg: outNeg, pos: outPos, weight: outWeight } = batch;
    let out = 0;

    for (let bucket = BUCKETS - 1; bucket >= 0; bucket--) {
      const n0 = negStart[bucket]!;
      const n1 = negStart[bucket + 1]!;
      const p0 = posStart[bucket]!;
      const p1 = posStart[bucket + 1]!;
      const size = n1 - n0 + (p1 - p0);
      if (size === 0) continue;
      const high = bucket * 65536;
      if (size >= LARGE_BUCKET) {
        for (let i = n0; i < n1; i++) {
          const v = negLow[i]!;
          countAll[v]!++;
          blockUsed[v >>> 8]!++;
        }
        for (let i = p0; i < p1; i++) {
          const v = posLow[i]!;
          countAll[v]!++;
          countPos[v]!++;
          if (posSize !== null) weightPos[v]! += 1 / posSize[i]!;
          blockUsed[v >>> 8]!++;
        }
        for (let block = 255; block >= 0; block--) {
          if (blockUsed[block] === 0) continue;
          blockUsed[block] = 0;
          const base = block * 256;
          for (let v = base + 255; v >= base; v--) {
            const c = countAll[v]!;
            if (c === 0) continue;
            const cp = countPos[v]!;
            outToken[out] = high + v;
            outNeg[out] = c - cp;
            outPos[out] = cp;
            outWeight[out] = weightPos[v]!;
            if (++out === BATCH) {
              batch.length = out;
              sweep.pushBatch(batch);
              out = 0;
            }
            countAll[v] = 0;
            if (cp !== 0) {
              countPos[v] = 0;
              weightPos[v] = 0;
            }
          }
        }
      } else {
        // Small bucket: one sort of composite numbers low * 2^33 + (anomalous ? 2^32 + region size : 0),
        // exact in a double, so ties group and each anomalous pixel keeps its region size.
        let m = 0;
        for (let i = n0; i < n1; i++) scratch[m++] = negLow[i]! * TWO33;
        for (let i = p0; i < p1; i++) scratch[m++] = posLow[i]! * TWO33 + TWO32 + (posSize !== null ? posSize[i]! : 1);
        const part = scratch.subarray(0, m);
        part.sort();
        let k = m - 1;
        while (k >= 0) {
          const low = Math.floor(part[k]! / TWO33);
          const base = low * TWO33;
          let cn = 0;
          let cp = 0;
          let w = 0;
          while (k >= 0 && part[k]! >= base) {
            const rest = part[k]! - base;
            if (rest >= TWO32) {
              cp++;
              if (posSize !== null) w += 1 / (rest - TWO32);
            } else {
              cn++;
            }
            k--;
          }
          outToken[out] = high + low;
          outNeg[out] = cn;
          outPos[out] = cp;
          outWeight[out] = w;
          if (++out === BATCH) {
            batch.length = out;
            sweep.pushBatch(batch);
            out = 0;
          }
        }
      }
    }
    batch.length = out;
    sweep.pushBatch(batch);
  }
}
