/** Helpers for checks in other packages: `@unias/training/testing`. */
export { createReferenceBackend } from './reference-backend.js';
