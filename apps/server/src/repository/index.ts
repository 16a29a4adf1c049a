export { scanModelRepository, servedVersions, RepositoryError, type RepositoryModel, type RepositoryVersion } from './scan-repository.js';
export { configureModel, configJson, type ConfiguredModel } from './configured-model.js';
export { loadModelRepository, type RepositoryLoadProgress } from './load-repository.js';
export { ModelTable } from './model-table.js';
