/** Moved to @unias/detector; this path stays for the scripts under bench/, which import it. */
export { MODEL_FILE, loadStoredModel, saveModel, modelFileOf, updateThresholds, type StoredModel, type StoredThresholds } from '@unias/detector';
