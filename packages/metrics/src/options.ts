import { MetricsInputError } from './errors.js';
import { checkImageScoreRule } from './image-score.js';
import type { MetricsOptions, ResolvedOptions } from './report-types.js';

export function resolveOptions(options: MetricsOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    imageScore: options.imageScore ?? { kind: 'max' },
    proFprLimit: options.proFprLimit ?? 0.3,
    connectivity: options.connectivity ?? 8,
    curvePoints: options.curvePoints ?? 0,
    flipAurocBelowHalf: options.flipAurocBelowHalf ?? false,
  };
  checkImageScoreRule(resolved.imageScore);
  if (!(resolved.proFprLimit > 0 && resolved.proFprLimit <= 1)) {
    throw new MetricsInputError(`proFprLimit must be in (0, 1], got ${resolved.proFprLimit}`);
  }
  if (resolved.connectivity !== 4 && resolved.connectivity !== 8) {
    throw new MetricsInputError(`connectivity must be 4 or 8, got ${String(resolved.connectivity)}`);
  }
  if (!Number.isInteger(resolved.curvePoints) || (resolved.curvePoints !== 0 && resolved.curvePoints < 2)) {
    throw new MetricsInputError(`curvePoints must be 0 (no curves) or an integer >= 2, got ${resolved.curvePoints}`);
  }
  return resolved;
}
