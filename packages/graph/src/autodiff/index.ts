export { grad, type GradOptions } from './grad.js';
export { GRAD_RULES, NON_DIFFERENTIABLE_OPS } from './rules.js';
export { GradOps } from './grad-ops.js';
export { interpolationMatrix } from './rules-linear.js';
export type { GradContext, GradRule, GradRuleTable, InputGrads } from './rule-types.js';
