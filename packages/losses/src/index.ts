export {
  levelLoss,
  reconstructionLoss,
  MSE_FORMS,
  type CosineSign,
  type MseForm,
  type LevelLoss,
  type ReconstructionLoss,
  type ReconstructionLossOptions,
} from './reconstruction-loss.js';
