export { SYNTHETIC_CLASSES, DEFECT_TYPES, syntheticClass, type SyntheticClass, type DefectType, type ClassRender } from './classes.js';
export { renderSyntheticSample, VISIBILITY_THRESHOLD, SENSOR_NOISE, type SampleSpec, type RenderedSample } from './render.js';
export { generateSyntheticDataset, type SyntheticOptions, type SyntheticCounts, type SyntheticDatasetInfo } from './generate.js';
