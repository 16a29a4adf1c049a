/**
 * Per-class geometric augmentation as the official UniAD/UniAS configs define it: a class may get
 * random horizontal flips, vertical flips (each with probability 0.5) and a rotation drawn from
 * {0, 90, 180, 270} degrees (counter-clockwise, as torchvision's positive angles). Image and mask
 * get the identical transform. Draws come from a seeded Rng, so a run is reproducible.
 */
import type { Rng } from '@unias/graph';

export interface ClassAugmentation {
  readonly hflip?: boolean;
  readonly vflip?: boolean;
  readonly rotate?: boolean;
}

/** Class name -> which augmentations it gets; classes not listed get none. */
export type AugmentationPolicy = Readonly<Record<string, ClassAugmentation>>;

/** The augmentation drawn for one sample. */
export interface AugmentationParams {
  readonly hflip: boolean;
  readonly vflip: boolean;
  /** Counter-clockwise quarter turns: 0..3. */
  readonly quarterTurns: 0 | 1 | 2 | 3;
}

export const IDENTITY_AUGMENTATION: AugmentationParams = Object.freeze({ hflip: false, vflip: false, quarterTurns: 0 });

export interface AugmentationLists {
  readonly hflip?: readonly string[];
  readonly vflip?: readonly string[];
  readonly rotate?: readonly string[];
}

/** Builds a policy from the config's class lists. */
export function policyFromLists(lists: AugmentationLists): AugmentationPolicy {
  const out: Record<string, { hflip?: boolean; vflip?: boolean; rotate?: boolean }> = {};
  const mark = (names: readonly string[] | undefined, key: 'hflip' | 'vflip' | 'rotate'): void => {
    for (const n of names ?? []) out[n] = { ...out[n], [key]: true };
  };
  mark(lists.hflip, 'hflip');
  mark(lists.vflip, 'vflip');
  mark(lists.rotate, 'rotate');
  return out;
}

const MVTEC_FLIP = ['bottle', 'carpet', 'grid', 'hazelnut', 'metal_nut', 'pill', 'screw', 'tile', 'wood', 'zipper'] as const;

/** The official MVTec-AD lists: flips (both) for ten classes, rotation for six. */
export const MVTEC_AUGMENTATION_LISTS: Required<AugmentationLists> = {
  hflip: MVTEC_FLIP,
  vflip: MVTEC_FLIP,
  rotate: ['bottle', 'carpet', 'hazelnut', 'screw', 'tile', 'wood'],
};

/** The official VisA lists. */
export const VISA_AUGMENTATION_LISTS: Required<AugmentationLists> = {
  hflip: ['candle', 'macaroni2', 'capsules', 'chewinggum', 'fryum', 'macaroni1', 'pipe_fryum'],
  vflip: ['macaroni2', 'capsules', 'chewinggum', 'fryum', 'pipe_fryum'],
  rotate: ['macaroni2', 'capsules', 'fryum'],
};

export const MVTEC_AUGMENTATION: AugmentationPolicy = policyFromLists(MVTEC_AUGMENTATION_LISTS);
export const VISA_AUGMENTATION: AugmentationPolicy = policyFromLists(VISA_AUGMENTATION_LISTS);

/**
 * Draws one sample's augmentation. Always consumes three draws, whatever the policy, so that the
 * stream stays aligned when a policy changes for one class only.
 */
export function drawAugmentation(rng: Rng, policy: ClassAugmentation | undefined): AugmentationParams {
  const h = rng.uniform() < 0.5;
  const v = rng.uniform() < 0.5;
  const turns = rng.int(4) as 0 | 1 | 2 | 3;
  return { hflip: !!policy?.hflip && h, vflip: !!policy?.vflip && v, quarterTurns: policy?.rotate ? turns : 0 };
}

export function isIdentity(p: AugmentationParams): boolean {
  return !p.hflip && !p.vflip && p.quarterTurns === 0;
}

/**
 * Applies flips then the rotation to `channels` planes of `height x width` (row-major, planar).
 * Quarter turns of a non-square plane would change its shape, so they are refused.
 */
export function applyAugmentation<T extends Float32Array | Uint8Array>(data: T, channels: number, height: number, width: number, p: AugmentationParams): T {
  if (isIdentity(p)) return data;
  if (p.quarterTurns % 2 === 1 && height !== width) {
    throw new Error(`augmentation: a ${p.quarterTurns * 90} degree rotation needs a square image, got ${width}x${height}`);
  }
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const n = width;
  for (let c = 0; c < channels; c++) {
    const off = c * height * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Where does output (y, x) come from? Undo the rotation, then the flips.
        let sy = y;
        let sx = x;
        switch (p.quarterTurns) {
          case 1: // ccw 90: out(y, x) = in(x, n-1-y)
            [sy, sx] = [x, n - 1 - y];
            break;
          case 2:
            [sy, sx] = [height - 1 - y, width - 1 - x];
            break;
          case 3: // ccw 270 = cw 90: out(y, x) = in(n-1-x, y)
            [sy, sx] = [n - 1 - x, y];
            break;
        }
        if (p.vflip) sy = height - 1 - sy;
        if (p.hflip) sx = width - 1 - sx;
        out[off + y * width + x] = data[off + sy * width + sx]!;
      }
    }
  }
  return out;
}
