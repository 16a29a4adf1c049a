export { mggCnn, mggCnnLight, conv1x1, conv3x3, XAVIER, type MggCnnOptions } from './mgg-cnn.js';
export { createAdaptor, isAdaptorKind, ADAPTOR_KINDS, type Adaptor, type AdaptorKind, type AdaptorOptions } from './adaptor.js';
