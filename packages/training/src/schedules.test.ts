import { describe, expect, it } from 'vitest';
import { chainedLr, constantLr, cosineAnnealingLr, linearLr, sequentialLr, stepLr, warmupCosineLr } from './schedules.js';

const seq = (f: (t: number) => number, n: number) => Array.from({ length: n }, (_, t) => f(t));

/**
 * PyTorch's recursive CosineAnnealingLR.get_lr (torch/optim/lr_scheduler.py), stepped t times from
 * base lr: the closed form must reproduce it.
 */
function torchCosineRecursive(base: number, tMax: number, etaMin: number, steps: number): number[] {
  const out = [base];
  let lr = base;
  for (let t = 1; t < steps; t++) {
    if ((t - 1 - tMax) % (2 * tMax) === 0) lr = lr + ((base - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2;
    else lr = ((1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax))) * (lr - etaMin) + etaMin;
    out.push(lr);
  }
  return out;
}

describe('learning-rate schedules (PyTorch semantics)', () => {
  it('StepLR', () => {
    expect(seq(stepLr({ lr: 1, stepSize: 2, gamma: 0.5 }), 6)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
    expect(stepLr({ lr: 0.1, stepSize: 30 })(65)).toBeCloseTo(0.001, 15);
  });

  it('CosineAnnealingLR: closed form equals PyTorch recursive updates over two periods', () => {
    const closed = seq(cosineAnnealingLr({ lr: 0.1, tMax: 7, etaMin: 0.001 }), 20);
    const recursive = torchCosineRecursive(0.1, 7, 0.001, 20);
    closed.forEach((v, i) => expect(v).toBeCloseTo(recursive[i]!, 12));
    expect(closed[7]).toBeCloseTo(0.001, 15);
  });

  it('LinearLR warm-up', () => {
    const f = linearLr({ lr: 2, startFactor: 0.25, endFactor: 1, totalIters: 4 });
    expect(seq(f, 6)).toEqual([0.5, 0.875, 1.25, 1.625, 2, 2]);
  });

  it('SequentialLR restarts the next schedule at the milestone; ChainedScheduler multiplies', () => {
    const warm = linearLr({ lr: 1, startFactor: 0.5, totalIters: 2 });
    const decay = stepLr({ lr: 1, stepSize: 1, gamma: 0.5 });
    expect(seq(sequentialLr([warm, decay], [3]), 6)).toEqual([0.5, 0.75, 1, 1, 0.5, 0.25]);
    expect(
      seq(
        chainedLr(0.1, [
          { schedule: warm, baseLr: 1 },
          { schedule: decay, baseLr: 1 },
        ]),
        3,
      ).map((v) => +v.toFixed(12)),
    ).toEqual([0.05, 0.0375, 0.025]);
    const wc = warmupCosineLr({ lr: 1, warmupSteps: 2, totalSteps: 6, startFactor: 0.5 });
    expect(seq(wc, 3)).toEqual([0.5, 0.75, 1]);
    expect(wc(4)).toBeCloseTo(0.5, 12); // half way through the 4-step cosine
  });

  it('refuses bad arguments with a message naming them', () => {
    expect(() => stepLr({ lr: 1, stepSize: 0 })).toThrow(/stepSize/);
    expect(() => sequentialLr([constantLr(1)], [3])).toThrow(/milestones/);
    expect(() => constantLr(1)(-1)).toThrow(/non-negative integer/);
    expect(() => warmupCosineLr({ lr: 1, warmupSteps: 5, totalSteps: 5 })).toThrow(/warmupSteps/);
  });
});
