export { writeTorchCheckpoint, type CheckpointValue } from './write-checkpoint.js';
