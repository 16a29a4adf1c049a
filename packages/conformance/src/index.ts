export { conformanceBackends, type NamedBackend } from './backends.js';
