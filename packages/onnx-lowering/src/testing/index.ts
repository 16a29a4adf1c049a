/** Test helpers for this package and @unias/backend-onnx: `@unias/onnx-lowering/testing`. */
export { buildTestNet } from './test-net.js';
