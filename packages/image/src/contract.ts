/**
 * The image contract: how a file becomes the model's `image` input, the same for training,
 * evaluation, `unias predict`, the server's /predict and (recorded in the export's metadata_props)
 * any KServe client. Constants only, no sharp, so that exporters can record it cheaply.
 *
 * Steps, in order (docs/exported-model.md gives them as client code):
 * 1. decode with sharp (libvips), EXIF orientation applied;
 * 2. resize to the model's H x W with sharp's `linear` kernel, `fit: 'fill'` (stretched: the aspect
 *    ratio is not kept, nothing is cropped or padded), in the file's own channels and bit depth;
 * 3. grey is replicated to R, G, B; alpha is composited over black (`rgb * alpha`);
 * 4. samples are divided by 255 (8-bit) or 65535 (16-bit): RGB in [0, 1], planar NCHW float32.
 * Normalisation for the backbone (ImageNet mean/std, ...) happens inside the graph.
 */

/** Interpolation for image resizing (sharp's names). */
export type ResizeKernel = 'linear' | 'cubic' | 'lanczos3' | 'nearest';

/** Linear: the kernel training has always used; changing it would shift every trained model's inputs. */
export const RESIZE_KERNEL: ResizeKernel = 'linear';

/** Stretch to H x W (no crop, no padding): non-square images are handled the same everywhere. */
export const RESIZE_FIT = 'fill' as const;

/** What transparent pixels are composited over, RGB in [0, 1]. */
export const ALPHA_BACKGROUND: readonly [number, number, number] = [0, 0, 0];

export const PREPROCESSING_METADATA_KEYS = {
  resize: 'unias.preprocess.resize',
  fit: 'unias.preprocess.fit',
  orientation: 'unias.preprocess.orientation',
  colour: 'unias.preprocess.colour',
  alpha: 'unias.preprocess.alpha',
  range: 'unias.preprocess.range',
} as const;

/**
 * The contract as metadata_props entries, for an export: what a client must do to an image before
 * `infer` so that its scores equal `unias predict` and /predict (docs/exported-model.md).
 */
export function preprocessingMetadata(): Record<string, string> {
  const k = PREPROCESSING_METADATA_KEYS;
  return {
    [k.resize]: RESIZE_KERNEL, // sharp's kernel name
    [k.fit]: RESIZE_FIT,
    [k.orientation]: 'exif',
    [k.colour]: 'rgb',
    [k.alpha]: ALPHA_BACKGROUND.every((v) => v === 0) ? 'black' : ALPHA_BACKGROUND.join(','),
    [k.range]: '0,1',
  };
}

/**
 * Why a model's metadata_props rule out this contract (a `unias.preprocess.*` key with another
 * value), or null. Models exported before the keys existed have none and used this contract.
 */
export function preprocessingMismatch(metadata: Readonly<Record<string, string>>): string | null {
  for (const [key, value] of Object.entries(preprocessingMetadata())) {
    const asked = metadata[key];
    if (asked !== undefined && asked !== value) {
      return `metadata ${key} = '${asked}', but images are preprocessed with ${key} = '${value}' (docs/exported-model.md)`;
    }
  }
  return null;
}
