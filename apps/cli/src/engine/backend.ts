/** Moved to @unias/detector; this path stays for the scripts under bench/, which import it. */
export { openBackend, chooseDevice, type OpenBackendOptions } from '@unias/detector';
