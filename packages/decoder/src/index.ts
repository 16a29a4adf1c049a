export { sinePositionEncoding, sinePositionTokens } from './position-encoding.js';
export {
  attention,
  bareConv,
  crossAttentionLayer,
  encoderLayer,
  ffnLayer,
  fromTokens,
  selfAttentionLayer,
  toTokens,
  withPos,
  xavierLinear,
  type AttentionLayerOptions,
  type BareConvOptions,
} from './layers.js';
export { neighbourMask } from './neighbour-mask.js';
export { pixelDecoder, C2_XAVIER, type PixelDecoderOptions } from './pixel-decoder.js';
export { queryProcessor, type QueryProcessorOptions } from './query-processor.js';
export { hybridDecoder, type AttentionKind, type HybridDecoderOptions } from './hybrid-decoder.js';
export { unifiedHead, type HeadOptions, type HeadOutputs } from './head.js';
