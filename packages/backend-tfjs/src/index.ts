export { TF_KERNELS, interpolationMatrix, type Kernel, type KernelTable } from './kernels/index.js';
export {
  compileGraph,
  createTfRunner,
  executeProgram,
  runGraphTf,
  type GraphProgram,
  type LeafSource,
  type RunGraphOptions,
  type TfGraphRunner,
} from './interpreter.js';
export { toTensor, fromTensor } from './convert.js';
export {
  registerWasmGradientKernels,
  type WasmGradientOptions,
  conv2dFilterGradient,
  depthwiseFilterGradient,
  depthwiseInputGradient,
} from './wasm-gradients.js';
export { loadRuntime, activateRuntime, onRuntime, wasmBinaryDir, RUNTIME_PRIORITY, type TfjsRuntime, type TfjsRuntimeName } from './runtimes.js';
export { TfjsSession } from './session.js';
export { createTfjsBackend, tfjsBackendCandidates, type TfjsBackend, type CreateTfjsBackendOptions } from './backend.js';
