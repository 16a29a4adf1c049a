/**
 * Training to a time budget: from the measured time of a training step and of inference per image,
 * the number of steps that fits, with the periodic evaluations and the end of the run (thresholds
 * on the training images, the final evaluation) paid for inside the budget. The learning-rate
 * schedule is then laid over exactly those steps, so the run ends on time with its schedule done.
 */

/** "30m", "1h30m", "90s", "1.5h", "45" (seconds) -> seconds; null when not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)\s*(h|min|m|sec|s)/gy;
  let total = 0;
  let matched = 0;
  for (const m of t.matchAll(re)) {
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3600 : m[2]!.startsWith('m') ? v * 60 : v;
    matched += m[0].length;
  }
  return matched === t.replace(/\s+$/, '').length && matched > 0 ? total : null;
}

/** Seconds as mm:ss, or h:mm:ss from an hour on; '--:--' for an unknown time. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatBudget(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${Math.round(seconds)}s`;
}

/**
 * A run's steps take longer on average than the calibration steps say (checkpoint writes, garbage
 * collection, the loader's slower moments): the 8-class unified run of `pnpm bench:accuracy`
 * calibrated 0.69 s per step and averaged 0.715 s over 2571 steps (+3.6%), overrunning its
 * 30-minute budget by a minute. Budgets are planned with the step time times this.
 */
export const STEP_TIME_MARGIN = 1.05;

export interface BudgetInput {
  /** Seconds left for the whole rest of the run. */
  readonly seconds: number;
  /** Measured seconds per training step. */
  readonly stepSeconds: number;
  /** Measured (or estimated) seconds of inference per image. */
  readonly inferSeconds: number;
  readonly batchesPerEpoch: number;
  /** Evaluate every this many epochs (0: at the end only). */
  readonly evalEvery: number;
  readonly testImages: number;
  readonly trainImages: number;
  /** Whether the final evaluation runs. */
  readonly finalEval: boolean;
}

export interface BudgetPlan {
  readonly steps: number;
  readonly epochs: number;
  readonly evaluations: number;
  /** Predicted seconds: training steps, evaluations, the end (thresholds + final evaluation). */
  readonly predicted: { readonly train: number; readonly evals: number; readonly end: number };
}

/** The most steps whose training, evaluations and end fit in the budget (at least one step). */
export function planBudget(b: BudgetInput): BudgetPlan {
  const evalCost = b.testImages * b.inferSeconds;
  const end = b.trainImages * b.inferSeconds + (b.finalEval ? evalCost : 0);
  const cost = (steps: number) => {
    const evals = b.evalEvery > 0 ? Math.floor((steps - 1) / (b.batchesPerEpoch * b.evalEvery)) : 0;
    return { train: steps * b.stepSeconds, evals: evals * evalCost, end, evaluations: evals };
  };
  // the cost is monotone in steps: bisect for the largest that fits
  let lo = 1;
  let hi = Math.max(1, Math.floor(b.seconds / Math.max(b.stepSeconds, 1e-9)));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const c = cost(mid);
    if (c.train + c.evals + c.end <= b.seconds) lo = mid;
    else hi = mid - 1;
  }
  const c = cost(lo);
  return { steps: lo, epochs: lo / b.batchesPerEpoch, evaluations: c.evaluations, predicted: { train: c.train, evals: c.evals, end: c.end } };
}

/** Median of the values (the steps after the first: the first pays the session's warm-up). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) throw new Error('median of no values');
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
