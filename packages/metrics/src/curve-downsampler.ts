/**
 * Keeps at most `maxPoints` points of a long curve for plotting: a point is kept when it lies at least
 * `step` (L1 distance) from the last kept one; when the budget fills up the step doubles and the kept
 * points are thinned again. The first and the final point are always kept.
 */

export interface CurvePoints {
  readonly x: number[];
  readonly y: number[];
  /**
   * The threshold of each point (a score: predicted anomalous when score >= threshold); null for the
   * point that no threshold gives (ROC (0,0), PR (recall 0, precision 1), PRO (0,0)).
   */
  readonly thresholds: (number | null)[];
}

export class CurveDownsampler {
  private xs: number[] = [];
  private ys: number[] = [];
  private tokens: number[] = [];
  private step: number;
  private lastX = NaN;
  private lastY = NaN;
  private lastToken = NaN;
  private pending = false;

  constructor(
    private readonly maxPoints: number,
    initialStep = 2 / maxPoints,
  ) {
    if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new Error(`curve points must be an integer >= 2, got ${maxPoints}`);
    this.step = initialStep;
  }

  push(x: number, y: number, token: number): void {
    const n = this.xs.length;
    if (n === 0 || Math.abs(x - this.xs[n - 1]!) + Math.abs(y - this.ys[n - 1]!) >= this.step) {
      this.xs.push(x);
      this.ys.push(y);
      this.tokens.push(token);
      this.pending = false;
      // Keep one slot free for the final point.
      if (this.xs.length >= this.maxPoints) this.thin();
    } else {
      this.lastX = x;
      this.lastY = y;
      this.lastToken = token;
      this.pending = true;
    }
  }

  private thin(): void {
    while (this.xs.length >= this.maxPoints) {
      this.step *= 2;
      const xs = [this.xs[0]!];
      const ys = [this.ys[0]!];
      const tokens = [this.tokens[0]!];
      for (let i = 1; i < this.xs.length; i++) {
        const x = this.xs[i]!;
        const y = this.ys[i]!;
        if (Math.abs(x - xs[xs.length - 1]!) + Math.abs(y - ys[ys.length - 1]!) >= this.step) {
          xs.push(x);
          ys.push(y);
          tokens.push(this.tokens[i]!);
        }
      }
      this.xs = xs;
      this.ys = ys;
      this.tokens = tokens;
    }
  }

  /** The kept points; `decode` maps each point's threshold token to a score (tokens of Infinity give null). */
  finish(decode: (token: number) => number): CurvePoints {
    if (this.pending) {
      this.xs.push(this.lastX);
      this.ys.push(this.lastY);
      this.tokens.push(this.lastToken);
      this.pending = false;
    }
    const thresholds = this.tokens.map((t) => (t === Infinity ? null : decode(t)));
    return { x: [...this.xs], y: [...this.ys], thresholds };
  }
}
