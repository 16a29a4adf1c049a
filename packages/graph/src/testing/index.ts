export { evaluateReference, toRef, bilinearSource, type RefTensor, type RefFeed, type ReferenceOptions } from './reference.js';
export { OP_CASES, caseGraph, uniform, type OpCase } from './cases.js';
export { maxRelError, maxAbsError } from './compare.js';
export { erf64 } from './erf64.js';
export { buildGradCase, finiteDifferenceCheck, FD_STEP, FD_TOLERANCE, type GradCase, type FdResult } from './gradient-check.js';
export { fuzz, mutateBytes, type FuzzOptions, type FuzzReport, type Mutation } from './fuzz.js';
