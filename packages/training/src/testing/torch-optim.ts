/**
 * PyTorch's optimizer and clipping formulas in float64 JS, written from torch/optim/adamw.py,
 * torch/optim/sgd.py (single-tensor code paths) and torch/nn/utils/clip_grad.py: the truth the
 * graph optimizers are checked against.
 */
export interface TorchAdamW {
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
}

export class AdamW64 {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(
    readonly p: Float64Array,
    private readonly o: TorchAdamW,
  ) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }
  step(g: ArrayLike<number>, lr = this.o.lr): void {
    const [b1, b2] = this.o.betas;
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < this.p.length; i++) {
      this.p[i]! *= 1 - lr * this.o.weightDecay;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * g[i]!;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * g[i]! * g[i]!;
      const denom = Math.sqrt(this.v[i]!) / bc2Sqrt + this.o.eps;
      this.p[i]! -= (stepSize * this.m[i]!) / denom;
    }
  }
}

export interface TorchSgd {
  readonly lr: number;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
}

export class Sgd64 {
  private buf: Float64Array | null = null;
  constructor(
    readonly p: Float64Array,
    private readonly o: TorchSgd,
  ) {}
  step(g: ArrayLike<number>, lr = this.o.lr): void {
    const d = Float64Array.from(g, (v, i) => v + this.o.weightDecay * this.p[i]!);
    if (this.o.momentum !== 0) {
      if (!this.buf)
        this.buf = Float64Array.from(d); // first step: clone
      else for (let i = 0; i < d.length; i++) this.buf[i] = this.o.momentum * this.buf[i]! + d[i]!; // dampening 0
      if (this.o.nesterov) for (let i = 0; i < d.length; i++) d[i] = d[i]! + this.o.momentum * this.buf[i]!;
      else d.set(this.buf);
    }
    for (let i = 0; i < d.length; i++) this.p[i]! -= lr * d[i]!;
  }
}

/** clip_grad_norm_ over a list of gradients, in place; returns the total norm. */
export function clipGradNorm64(grads: Float64Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (const v of g) sq += v * v;
  const total = Math.sqrt(sq);
  const coef = Math.min(maxNorm / (total + 1e-6), 1);
  for (const g of grads) for (let i = 0; i < g.length; i++) g[i]! *= coef;
  return total;
}
