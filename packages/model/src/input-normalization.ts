/** The one place the `image` input becomes what the backbone expects (both methods use it). */
import type { GraphBuilder, Sym } from '@unias/graph';
import type { ResolvedConfig } from './config.js';

/** How the `image` input is given: RGB in [0, 1] (normalised inside the graph) or already normalised. */
export type ImageInput = 'unit' | 'normalized';

/** image [N, 3, H, W] in the given form -> the backbone's input range; no node when nothing changes. */
export function normalizeImage(b: GraphBuilder, image: Sym, config: ResolvedConfig, input: ImageInput): Sym {
  const norm = config.inputNormalization;
  if (input !== 'unit' || (norm.mean.every((m) => m === 0) && norm.std.every((s) => s === 1))) return image;
  return b.div(b.sub(image, b.constant([...norm.mean], [1, 3, 1, 1])), b.constant([...norm.std], [1, 3, 1, 1]));
}
