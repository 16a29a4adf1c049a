export {
  levelLoss,
  reconstructionLoss,
  type CosineSign,
  type LevelLoss,
  type ReconstructionLoss,
  type ReconstructionLossOptions,
} from './reconstruction-loss.js';
