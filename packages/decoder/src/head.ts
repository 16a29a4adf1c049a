/**
 * The UniAS head (official `MaskFormerHead`): pixel decoder, then hybrid decoder, under the
 * names `pixel_decoder.*` and `predictor.*` of the current scope (the model puts it in `sem_seg_head`).
 */
import type { GraphBuilder, Sym } from '@unias/graph';
import { hybridDecoder, type HybridDecoderOptions } from './hybrid-decoder.js';
import { pixelDecoder, type PixelDecoderOptions } from './pixel-decoder.js';

export interface HeadOptions {
  readonly pixelDecoder: PixelDecoderOptions;
  /** targetChannels from the coarsest to the finest level. */
  readonly predictor: HybridDecoderOptions;
}

export interface HeadOutputs {
  /** Pixel-decoder maps, coarsest first. */
  readonly maps: Sym[];
  /** Reconstructions, coarsest first: level i reconstructs the target of tap L-1-i. */
  readonly recon: Sym[];
}

/** decoderInputs: one per tap, from the finest (res1) to the coarsest. */
export function unifiedHead(b: GraphBuilder, decoderInputs: readonly Sym[], o: HeadOptions): HeadOutputs {
  const maps = b.within('pixel_decoder', () => pixelDecoder(b, decoderInputs, o.pixelDecoder));
  const recon = b.within('predictor', () => hybridDecoder(b, maps, o.predictor));
  return { maps, recon };
}
