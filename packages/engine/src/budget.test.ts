import { describe, expect, it } from 'vitest';
import { formatBudget, median, parseDuration, planBudget } from './budget.js';

describe('parseDuration', () => {
  it('reads hours, minutes, seconds and plain seconds', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('1.5h')).toBe(5400);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('45')).toBe(45);
    expect(parseDuration('2min')).toBe(120);
  });
  it('refuses what is not a duration', () => {
    for (const t of ['', 'soon', '30x', 'm30', '10m junk']) expect(parseDuration(t)).toBeNull();
  });
  it('formats round budgets back', () => {
    expect([formatBudget(1800), formatBudget(7200), formatBudget(95)]).toEqual(['30m', '2h', '95s']);
  });
});

describe('planBudget', () => {
  const base = { stepSeconds: 2, inferSeconds: 0.1, batchesPerEpoch: 10, testImages: 50, trainImages: 100, finalEval: true };
  it('without evaluations: (budget - end) / step seconds, the end being thresholds and the final evaluation', () => {
    const p = planBudget({ ...base, seconds: 1000, evalEvery: 0 });
    // end = 100 * 0.1 + 50 * 0.1 = 15 s; (1000 - 15) / 2 = 492.5 -> 492 steps
    expect(p.steps).toBe(492);
    expect(p.evaluations).toBe(0);
    expect(p.predicted.train + p.predicted.evals + p.predicted.end).toBeLessThanOrEqual(1000);
    expect(p.predicted.train + 2 + p.predicted.end).toBeGreaterThan(1000);
  });
  it('pays for the periodic evaluations inside the budget', () => {
    const p = planBudget({ ...base, seconds: 1000, evalEvery: 10 }); // one evaluation (5 s) every 100 steps
    const total = p.predicted.train + p.predicted.evals + p.predicted.end;
    expect(total).toBeLessThanOrEqual(1000);
    expect(p.evaluations).toBe(Math.floor((p.steps - 1) / 100));
    // one more step would not fit
    const more = (p.steps + 1) * 2 + Math.floor(p.steps / 100) * 5 + 15;
    expect(more).toBeGreaterThan(1000);
    expect(p.steps).toBe(482); // 482 * 2 + 4 evaluations * 5 + 15 = 999; 483 steps would take 1001 s
  });
  it('gives at least one step when nothing fits', () => {
    expect(planBudget({ ...base, seconds: 1, evalEvery: 0 }).steps).toBe(1);
  });
  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
