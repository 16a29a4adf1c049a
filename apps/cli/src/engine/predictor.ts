/** Moved to @unias/detector; this path stays for the scripts under bench/, which import it. */
export { openPredictor, createGraphPredictor, type Predictor, type Prediction } from '@unias/detector';
