export * from './contract.js';
export { ImageDecodeError } from './errors.js';
export {
  decodeImage,
  decodeImageBytes,
  decodeMask,
  readImageHeader,
  readImageHeaderBytes,
  resizeNearest,
  verifyDecodes,
  type DecodedImage,
  type DecodedMask,
  type DecodeImageOptions,
  type DecodeLimits,
  type ImageHeader,
  type ImageSize,
} from './decode.js';
export * from './render.js';
