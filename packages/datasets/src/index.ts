export * from './types.js';
export { DatasetError, ImageDecodeError } from './errors.js';
export { IMAGE_EXTENSIONS, isFolderEntry, isImageFile } from './files.js';
// Decoding is the image contract's (@unias/image); re-exported for this package's existing users.
export {
  decodeImage,
  decodeMask,
  readImageHeader,
  resizeNearest,
  type ImageSize,
  type ImageHeader,
  type DecodedImage,
  type DecodedMask,
  type DecodeImageOptions,
  type ResizeKernel,
} from '@unias/image';
export { loadMvtec, type MvtecOptions } from './mvtec.js';
export { loadVisa, type VisaOptions } from './visa.js';
export { loadFolder, type FolderOptions, type DefectFolder } from './folder.js';
export { loadDatasets, combineDatasets, type DatasetSource } from './combine.js';
export { capabilitiesOf, describeDataset } from './build-dataset.js';
export * from './augment.js';
export { createSampleReader, IMAGENET_MEAN, IMAGENET_STD, type Normalization, type ReaderOptions, type DecodedSample, type SampleReader } from './reader.js';
export {
  createBatchLoader,
  samplesFingerprint,
  type Batch,
  type BatchLoader,
  type BatchLoaderOptions,
  type BatchLoaderState,
  type BatchLoaderStats,
} from './batch-loader.js';
export * from './feature-cache.js';
export * from './synthetic/index.js';
