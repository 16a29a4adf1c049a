export { patchEmbedding, type PatchEmbeddingOptions } from './embedding.js';
export { nearestDistanceMap, DEFAULT_CHUNK } from './distance.js';
export { greedyCoreset, type CoresetOptions } from './coreset.js';
export { createBankBuilder, SUBSAMPLINGS, type BankBuilder, type BankBuilderOptions, type FinishOptions, type MemoryBank, type Subsampling } from './bank.js';
