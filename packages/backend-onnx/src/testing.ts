/** Test helpers for other packages' device tests: `@unias/backend-onnx/testing`. */
export { SWIFTSHADER_ICD, swiftshaderMissing, useSwiftshader } from './swiftshader.js';
