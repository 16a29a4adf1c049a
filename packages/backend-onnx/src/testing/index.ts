/** Helpers for device tests and checks in other packages: `@unias/backend-onnx/testing`. */
export { SWIFTSHADER_ICD, swiftshaderMissing, useSwiftshader } from '../swiftshader.js';
export { compareTrainedParams, type ParamParity } from '../param-parity.js';
