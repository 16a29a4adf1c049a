/**
 * One synthetic sample: the class render, an optional defect, sensor noise, 8-bit quantisation. The
 * mask is computed, not drawn: a pixel is defective when the defect changed any channel by at least
 * `VISIBILITY_THRESHOLD` levels; every other pixel is reset to its clean value, so the written image
 * differs from the defect-free render exactly on the mask.
 */
import { createRng, hashString, type Rng } from '@unias/graph';
import { syntheticClass, type DefectType } from './classes.js';
import { paintDefect } from './defects.js';

/** Minimum change (0..255 levels, any channel) for a pixel to count as altered by a defect. */
export const VISIBILITY_THRESHOLD = 10;
/** Standard deviation of the per-channel sensor noise, in [0, 1] units. */
export const SENSOR_NOISE = 0.008;

export interface SampleSpec {
  readonly className: string;
  readonly size: number;
  readonly seed: number;
  readonly split: 'train' | 'test';
  /** `good`, or the defect type of a defective test image. */
  readonly group: DefectType | 'good';
  readonly index: number;
  /** Render a defective sample without its defect (same lighting, pose, noise). Default true. */
  readonly withDefect?: boolean;
}

export interface RenderedSample {
  readonly size: number;
  /** Interleaved RGB bytes. */
  readonly image: Uint8Array;
  /** 0/255 bytes, or null for a normal sample. */
  readonly mask: Uint8Array | null;
  readonly defectPixels: number;
}

/**
 * Zero-mean noise with standard deviation SENSOR_NOISE: a triangular draw (sum of two uniforms, here
 * the two 16-bit halves of one 32-bit draw), far cheaper than Box-Muller.
 */
function sensorNoise(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  const k = SENSOR_NOISE * Math.sqrt(6);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform() * 65536;
    const hi = Math.floor(u);
    out[i] = (hi / 65536 + (u - hi) - 1) * k;
  }
  return out;
}

function quantise(src: Float32Array, noise: Float32Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]! + noise[i]!;
    out[i] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
  }
  return out;
}

export function renderSyntheticSample(spec: SampleSpec): RenderedSample {
  const cls = syntheticClass(spec.className);
  if (spec.group !== 'good' && !cls.defects.includes(spec.group)) {
    throw new Error(`synthetic class ${cls.name} has no defect "${spec.group}" (it has: ${cls.defects.join(', ')})`);
  }
  const { size, seed } = spec;
  const key = `${cls.name}/${spec.split}/${spec.group}/${spec.index}`;
  const render = cls.render(size, createRng(hashString(`${key}/variation`, seed)));
  const noise = sensorNoise(size * size * 3, createRng(hashString(`${key}/noise`, seed)));
  const clean = quantise(render.image, noise);
  if (spec.group === 'good' || spec.withDefect === false)
    return { size, image: clean, mask: spec.group === 'good' ? null : new Uint8Array(size * size), defectPixels: 0 };
  const minArea = Math.max(12, Math.round(0.0015 * size * size));
  // A defect that lands where it barely shows (a dark stain on a dark patch) is redrawn.
  for (let attempt = 0; attempt < 12; attempt++) {
    const work = render.image.slice();
    paintDefect(spec.group, work, render, size, createRng(hashString(`${key}/defect/${attempt}`, seed)));
    const dirty = quantise(work, noise);
    const mask = new Uint8Array(size * size);
    let count = 0;
    for (let i = 0; i < mask.length; i++) {
      const o = i * 3;
      const d = Math.max(Math.abs(dirty[o]! - clean[o]!), Math.abs(dirty[o + 1]! - clean[o + 1]!), Math.abs(dirty[o + 2]! - clean[o + 2]!));
      if (d >= VISIBILITY_THRESHOLD) {
        mask[i] = 255;
        count++;
      }
    }
    if (count < minArea) continue;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] === 0) {
        const o = i * 3;
        dirty[o] = clean[o]!;
        dirty[o + 1] = clean[o + 1]!;
        dirty[o + 2] = clean[o + 2]!;
      }
    }
    return { size, image: dirty, mask, defectPixels: count };
  }
  throw new Error(`synthetic: could not draw a visible ${spec.group} on ${key} (seed ${seed})`);
}
