/** Test helpers for gradient checks (the gradient cases themselves live in @unias/graph/testing). */
export { buildGradCase, type GradCase } from '@unias/graph/testing';

/** Worst value per key, for a one-line summary. */
export class WorstPerKey {
  private readonly worst = new Map<string, number>();
  add(key: string, value: number): void {
    this.worst.set(key, Math.max(this.worst.get(key) ?? 0, value));
  }
  summary(): string {
    return [...this.worst.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v.toExponential(1)}`)
      .join(' ');
  }
}
