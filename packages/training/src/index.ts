export {
  createTrainingStep,
  buildStepGraph,
  LOSS_OUTPUT,
  GRAD_NORM_OUTPUT,
  FLAT_HOLDER_LIMIT,
  type TrainingStep,
  type TrainingStepOptions,
  type TrainingState,
  type StepResult,
  type StepGraph,
  type Holder,
  type ParamSlot,
} from './training-step.js';
export {
  adamw,
  sgd,
  appendOptimizer,
  clipGradNorm,
  gradNorm,
  nextName,
  stateName,
  stateKinds,
  weightDecayOf,
  LR_INPUT,
  type OptimizerSpec,
  type AdamWOptions,
  type SgdOptions,
  type WeightDecay,
  type OptimizerGraph,
  type StateSlot,
  type UpdateTarget,
} from './optimizers.js';
export { constantLr, stepLr, cosineAnnealingLr, linearLr, sequentialLr, chainedLr, warmupCosineLr, type Schedule } from './schedules.js';
export { importGraph } from './import-graph.js';
export { countFlops, type FlopCount } from '@unias/graph';
export {
  OPTIMIZER_STATE_PREFIX,
  TRAINING_STATE_FORMAT,
  TRAINING_STATE_FORMATS,
  isTrainingStateMetadata,
  loadTrainingState,
  saveTrainingState,
  splitTrainingTensors,
  trainingStateFormatOf,
  type TrainingStateFormat,
} from './checkpoint.js';
