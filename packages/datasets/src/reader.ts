/** Decodes samples on demand into model-ready planar tensors: resize, optional normalisation, augmentation. */
import { applyAugmentation, IDENTITY_AUGMENTATION, type AugmentationParams } from './augment.js';
import { decodeImage, decodeMask, RESIZE_KERNEL, type ImageSize, type ResizeKernel } from '@unias/image';
import { ImageDecodeError } from './errors.js';
import type { Sample } from './types.js';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * `imagenet`: (x - mean) / std per channel; `none`: plain RGB in [0, 1] (for a model whose graph
 * normalises itself); or your own mean and std.
 */
export type Normalization = 'imagenet' | 'none' | { readonly mean: readonly [number, number, number]; readonly std: readonly [number, number, number] };

export interface ReaderOptions {
  /** Output size: a number for square, or width and height. */
  readonly size: number | ImageSize;
  /** Default `imagenet`. */
  readonly normalize?: Normalization;
  /** Image interpolation (default: the image contract's `linear`). Masks always use nearest, then > 0. */
  readonly kernel?: ResizeKernel;
  /** Colour transparent pixels are composited over, RGB in [0, 1] (default black). */
  readonly alphaBackground?: readonly [number, number, number];
}

export interface DecodedSample {
  /** `[3, height, width]`, normalised as the reader says. */
  readonly image: Float32Array;
  /** `[height, width]` of 0/1; all zero for normal images and for defects without a mask. */
  readonly mask: Uint8Array;
  /** False only for a defective image without a mask (its pixels are unknown, not normal). */
  readonly maskKnown: boolean;
  readonly width: number;
  readonly height: number;
  readonly augmentation: AugmentationParams;
}

export interface SampleReader {
  readonly size: ImageSize;
  readonly normalize: Normalization;
  read(sample: Sample, augmentation?: AugmentationParams): Promise<DecodedSample>;
}

export function normalizationStats(n: Normalization): { mean: readonly number[]; std: readonly number[] } | null {
  if (n === 'none') return null;
  if (n === 'imagenet') return { mean: IMAGENET_MEAN, std: IMAGENET_STD };
  return n;
}

export function createSampleReader(options: ReaderOptions): SampleReader {
  const size: ImageSize = typeof options.size === 'number' ? { width: options.size, height: options.size } : options.size;
  if (!(Number.isInteger(size.width) && size.width > 0 && Number.isInteger(size.height) && size.height > 0)) {
    throw new RangeError(`createSampleReader: size must be positive integers, got ${size.width}x${size.height}`);
  }
  const normalize = options.normalize ?? 'imagenet';
  const stats = normalizationStats(normalize);
  const plane = size.width * size.height;
  return {
    size,
    normalize,
    async read(sample, augmentation = IDENTITY_AUGMENTATION) {
      const [img, mask] = await Promise.all([
        decodeImage(sample.path, {
          size,
          kernel: options.kernel ?? RESIZE_KERNEL,
          ...(options.alphaBackground ? { alphaBackground: options.alphaBackground } : {}),
        }),
        sample.maskPath ? decodeMask(sample.maskPath, size) : Promise.resolve(null),
      ]);
      if (mask && (mask.source.width !== img.source.width || mask.source.height !== img.source.height)) {
        throw new ImageDecodeError(
          sample.maskPath!,
          `mask is ${mask.source.width}x${mask.source.height} but its image ${sample.path} is ${img.source.width}x${img.source.height}`,
        );
      }
      if (sample.label === 0 && mask && mask.data.some((v) => v !== 0)) {
        throw new ImageDecodeError(sample.maskPath!, `normal image ${sample.path} has a non-empty mask`);
      }
      let image = img.data;
      if (stats) {
        for (let c = 0; c < 3; c++) {
          const m = stats.mean[c]!;
          const inv = 1 / stats.std[c]!;
          const off = c * plane;
          for (let i = 0; i < plane; i++) image[off + i] = (image[off + i]! - m) * inv;
        }
      }
      image = applyAugmentation(image, 3, size.height, size.width, augmentation);
      const maskData = mask ? applyAugmentation(mask.data, 1, size.height, size.width, augmentation) : new Uint8Array(plane);
      return { image, mask: maskData, maskKnown: sample.label === 0 || mask !== null, width: size.width, height: size.height, augmentation };
    },
  };
}
