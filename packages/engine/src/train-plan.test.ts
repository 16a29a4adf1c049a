import { describe, expect, it } from 'vitest';
import { resolveTrainSettings } from './settings/train-settings.js';
import { scheduleOf, steadyStepSeconds, stepPeriodOf, warmupStepsOf } from './train-plan.js';

describe('the default learning-rate schedule', () => {
  const settings = resolveTrainSettings({ data: { roots: ['/d'] } });

  it('warms up linearly over 5% of the run from 1% of lr 1e-3, then follows the cosine over the whole run', () => {
    const total = 200;
    expect(warmupStepsOf(settings, total)).toBe(10);
    const lr = scheduleOf(settings, stepPeriodOf(settings, 20), total); // the period is StepLR's, unused here
    // closed form: PyTorch's ChainedScheduler of LinearLR(0.01 -> 1 over 10) and CosineAnnealingLR(T_max 200)
    const expected = (t: number) => 1e-3 * (0.01 + (0.99 * Math.min(t, 10)) / 10) * ((1 + Math.cos((Math.PI * t) / total)) / 2);
    for (const t of [0, 1, 5, 10, 11, 100, 150, 199]) expect(lr(t)).toBeCloseTo(expected(t), 12);
    expect(lr(199)).toBeLessThan(1e-6);
  });

  it('an explicit warm-up (0 included) replaces the fraction; StepLR stays one setting away', () => {
    const none = resolveTrainSettings({ data: { roots: ['/d'] }, train: { warmupSteps: 0, schedule: 'step' } });
    expect(warmupStepsOf(none, 200)).toBe(0);
    const lr = scheduleOf(none, 80, 200);
    for (const [t, v] of [
      [0, 1e-3],
      [79, 1e-3],
      [80, 1e-4],
      [160, 1e-5],
    ] as const)
      expect(lr(t)).toBeCloseTo(v, 15);
  });
});

describe('steadyStepSeconds', () => {
  it('leaves out the two warm-up steps: the median of the rest', () => {
    // the first 10 calibration steps of the 8-class unified run (it then averaged 0.68 s per step)
    const measured = [2.672, 2.035, 0.767, 0.674, 0.609, 0.802, 0.62, 0.763, 0.7, 0.624];
    // sorted rest: 0.609 0.62 0.624 0.674 | 0.7 0.763 0.767 0.802 -> (0.674 + 0.7) / 2
    expect(steadyStepSeconds(measured)).toBeCloseTo(0.687, 12);
    expect(() => steadyStepSeconds([1, 2])).toThrow(/2 steps, needs more than 2/);
  });
});
