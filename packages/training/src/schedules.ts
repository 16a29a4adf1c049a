/**
 * Learning-rate schedules as pure functions of the step (or epoch) index, with PyTorch's
 * semantics. They run in JS and feed the step graph's scalar `lr` input, for two reasons: the step
 * graph stays one static graph prepared once (a schedule compiled into it would need the step as
 * an input anyway), and cosine is not in the op set (nor needed there: it is one number per step).
 *
 * Index convention: `schedule(t)` is the lr of the (t+1)-th optimizer step, i.e. the lr PyTorch's
 * optimizer uses after `scheduler.step()` was called t times. Epoch-based schedules are the same
 * functions called with the epoch.
 */
export type Schedule = (t: number) => number;

function checkIndex(t: number, what: string): void {
  if (!Number.isInteger(t) || t < 0) throw new Error(`${what}: step index must be a non-negative integer, got ${t}`);
}

function positiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
}

/** The same lr every step. */
export function constantLr(lr: number): Schedule {
  return (t) => {
    checkIndex(t, 'constantLr');
    return lr;
  };
}

/** torch.optim.lr_scheduler.StepLR: lr * gamma^floor(t / stepSize). */
export function stepLr(o: { lr: number; stepSize: number; gamma?: number }): Schedule {
  positiveInt(o.stepSize, 'stepLr: stepSize');
  const gamma = o.gamma ?? 0.1;
  return (t) => {
    checkIndex(t, 'stepLr');
    return o.lr * gamma ** Math.floor(t / o.stepSize);
  };
}

/**
 * torch.optim.lr_scheduler.CosineAnnealingLR (its closed form, which the recursive update follows
 * when nothing else changes the lr): etaMin + (lr - etaMin) (1 + cos(pi t / tMax)) / 2. Beyond
 * tMax the cosine continues (PyTorch does the same: the lr rises again), so size tMax to the run.
 */
export function cosineAnnealingLr(o: { lr: number; tMax: number; etaMin?: number }): Schedule {
  positiveInt(o.tMax, 'cosineAnnealingLr: tMax');
  const etaMin = o.etaMin ?? 0;
  return (t) => {
    checkIndex(t, 'cosineAnnealingLr');
    return etaMin + ((o.lr - etaMin) * (1 + Math.cos((Math.PI * t) / o.tMax))) / 2;
  };
}

/**
 * torch.optim.lr_scheduler.LinearLR (the usual linear warm-up): the factor goes linearly from
 * startFactor to endFactor over totalIters steps, then stays: lr * factor(min(t, totalIters)).
 */
export function linearLr(o: { lr: number; startFactor?: number; endFactor?: number; totalIters?: number }): Schedule {
  const start = o.startFactor ?? 1 / 3;
  const end = o.endFactor ?? 1;
  const total = o.totalIters ?? 5;
  positiveInt(total, 'linearLr: totalIters');
  if (!(start > 0 && start <= 1)) throw new Error(`linearLr: startFactor must be in (0, 1], got ${start}`);
  return (t) => {
    checkIndex(t, 'linearLr');
    return o.lr * (start + ((end - start) * Math.min(t, total)) / total);
  };
}

/**
 * torch.optim.lr_scheduler.SequentialLR: schedule i runs from milestone i-1, restarted at its own
 * step 0 (so warm-up then cosine is `sequentialLr([linearLr(...), cosineAnnealingLr(...)], [warmup])`).
 */
export function sequentialLr(schedules: readonly Schedule[], milestones: readonly number[]): Schedule {
  if (schedules.length === 0) throw new Error('sequentialLr: no schedules');
  if (milestones.length !== schedules.length - 1) {
    throw new Error(`sequentialLr: ${schedules.length} schedules need ${schedules.length - 1} milestones, got ${milestones.length}`);
  }
  milestones.forEach((m, i) => {
    if (!Number.isInteger(m) || m < 1 || (i > 0 && m <= milestones[i - 1]!))
      throw new Error(`sequentialLr: milestones must be increasing positive integers, got [${milestones.join(', ')}]`);
  });
  return (t) => {
    checkIndex(t, 'sequentialLr');
    let i = 0;
    while (i < milestones.length && t >= milestones[i]!) i++;
    return schedules[i]!(i === 0 ? t : t - milestones[i - 1]!);
  };
}

/**
 * torch.optim.lr_scheduler.ChainedScheduler for multiplicative schedules: the product of each
 * schedule's factor (its lr over its base lr), times `lr`. E.g. StepLR decay on top of a warm-up.
 */
export function chainedLr(lr: number, parts: ReadonlyArray<{ schedule: Schedule; baseLr: number }>): Schedule {
  return (t) => {
    checkIndex(t, 'chainedLr');
    return parts.reduce((acc, p) => acc * (p.schedule(t) / p.baseLr), lr);
  };
}

/** A cosine schedule after a linear warm-up from startFactor * lr, over `total` steps in all. */
export function warmupCosineLr(o: { lr: number; warmupSteps: number; totalSteps: number; startFactor?: number; etaMin?: number }): Schedule {
  if (o.warmupSteps >= o.totalSteps) throw new Error(`warmupCosineLr: warmupSteps ${o.warmupSteps} must be < totalSteps ${o.totalSteps}`);
  const cosine = cosineAnnealingLr({ lr: o.lr, tMax: o.totalSteps - o.warmupSteps, ...(o.etaMin !== undefined ? { etaMin: o.etaMin } : {}) });
  if (o.warmupSteps === 0) return cosine;
  return sequentialLr([linearLr({ lr: o.lr, startFactor: o.startFactor ?? 0.01, endFactor: 1, totalIters: o.warmupSteps }), cosine], [o.warmupSteps]);
}
