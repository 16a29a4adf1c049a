import { afterAll, describe, expect, it } from 'vitest';
import { OP_NAMES } from '../ops/infer.js';
import { OP_CASES } from '../testing/cases.js';
import { buildGradCase, finiteDifferenceCheck, FD_TOLERANCE } from '../testing/gradient-check.js';
import { NON_DIFFERENTIABLE_OPS } from './rules.js';

const differentiable = OP_CASES.filter((c) => c.differentiable !== false);
const worstPerOp = new Map<string, number>();

describe('every gradient rule against float64 central differences', () => {
  it('covers every differentiable op', () => {
    const covered = new Set(differentiable.map((c) => c.op));
    expect(OP_NAMES.filter((op) => !NON_DIFFERENTIABLE_OPS.has(op) && !covered.has(op))).toEqual([]);
  });

  it.each(differentiable.map((c) => [c.id, c] as const))('%s', (_, c) => {
    const { maxRelError } = finiteDifferenceCheck(buildGradCase(c));
    worstPerOp.set(c.op, Math.max(worstPerOp.get(c.op) ?? 0, maxRelError));
    expect(maxRelError).toBeLessThan(FD_TOLERANCE);
  });

  afterAll(() => {
    const rows = [...worstPerOp.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([op, e]) => `${op}=${e.toExponential(1)}`);
    console.info(`worst FD relative error per op: ${rows.join(' ')}`);
  });
});
