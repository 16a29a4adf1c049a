export { conformanceBackends, type NamedBackend } from './backends.js';
export { runGpuCheck, GPU_CHECK_TOLERANCE, type GpuCheckOptions, type GpuCheckResult, type RunPlacement } from './gpu-check.js';
