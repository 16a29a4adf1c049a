/**
 * Optimizers as graph ops appended to the step graph (PyTorch semantics). Per-step numbers (the
 * learning rate, AdamW's bias corrections) are scalar inputs computed in JS in float64, so one
 * static graph serves every step; optimizer state (moments, momentum buffers) are graph inputs
 * whose updated values are outputs, carried by the backend from one step to the next.
 */
import type { GraphBuilder, ParamNode, Sym } from '@unias/graph';

export type WeightDecay = number | ((paramName: string) => number);

export interface AdamWOptions {
  /** Base learning rate (used when no schedule is given). */
  readonly lr: number;
  /** Default [0.9, 0.999]. */
  readonly betas?: readonly [number, number];
  /** Default 1e-8. */
  readonly eps?: number;
  /** Decoupled weight decay, per param if a function (e.g. 0 for biases and norms). Default 0.01, as torch.optim.AdamW. */
  readonly weightDecay?: WeightDecay;
}

export interface SgdOptions {
  readonly lr: number;
  /** Default 0. */
  readonly momentum?: number;
  /** Nesterov momentum (needs momentum > 0). Default false. */
  readonly nesterov?: boolean;
  /** L2 weight decay added to the gradient (PyTorch SGD). Default 0. */
  readonly weightDecay?: WeightDecay;
}

export type OptimizerSpec = ({ readonly kind: 'adamw' } & AdamWOptions) | ({ readonly kind: 'sgd' } & SgdOptions);

export function adamw(options: AdamWOptions): OptimizerSpec {
  return { kind: 'adamw', ...options };
}

export function sgd(options: SgdOptions): OptimizerSpec {
  if (options.nesterov && !((options.momentum ?? 0) > 0)) throw new Error('sgd: nesterov needs momentum > 0 (as torch.optim.SGD)');
  return { kind: 'sgd', ...options };
}

/** One optimizer state tensor of one param: fed as `input`, updated as `output`, zero at step 0. */
export interface StateSlot {
  readonly param: string;
  readonly input: string;
  readonly output: string;
  readonly shape: readonly number[];
}

export interface OptimizerGraph {
  /** Updated value of each param, as an output name (param name -> output name). */
  readonly nextParams: ReadonlyMap<string, string>;
  readonly state: readonly StateSlot[];
  /** Scalar inputs and how to compute them for a step: (lr, t) with t = 1 on the first step. */
  readonly scalars: ReadonlyMap<string, (lr: number, t: number) => number>;
}

export const LR_INPUT = 'optimizer.lr';

function decayOf(wd: WeightDecay | undefined, name: string, fallback: number): number {
  const v = wd === undefined ? fallback : typeof wd === 'number' ? wd : wd(name);
  if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`weight decay for "${name}" must be a finite number >= 0, got ${v}`);
  return v;
}

/** `next.<name>`: the output name of an updated param or state tensor. */
export function nextName(name: string): string {
  return `next.${name}`;
}

/**
 * Appends the update of `params` given their gradients. Returns which outputs are the new params
 * and state, and which scalar inputs each step must feed.
 */
export function appendOptimizer(b: GraphBuilder, spec: OptimizerSpec, params: readonly ParamNode[], grads: readonly Sym[]): OptimizerGraph {
  if (!(spec.lr >= 0)) throw new Error(`${spec.kind}: lr must be >= 0, got ${spec.lr}`);
  const lr = b.input(LR_INPUT, []);
  const nextParams = new Map<string, string>();
  const state: StateSlot[] = [];
  const scalars = new Map<string, (lr: number, t: number) => number>([[LR_INPUT, (v) => v]]);
  const slot = (p: ParamNode, kind: string): { node: Sym; slot: StateSlot } => {
    const input = `${spec.kind}.${kind}.${p.name}`;
    const s: StateSlot = { param: p.name, input, output: nextName(input), shape: p.shape };
    state.push(s);
    return { node: b.input(input, p.shape), slot: s };
  };
  const emit = (name: string, value: Sym) => b.output(name, value);

  b.within('optimizer', () => {
    if (spec.kind === 'adamw') {
      const [beta1, beta2] = spec.betas ?? [0.9, 0.999];
      const eps = spec.eps ?? 1e-8;
      const stepSize = b.input('optimizer.adamw.step_size', []);
      const bias2Sqrt = b.input('optimizer.adamw.bias2_sqrt', []);
      // PyTorch: step_size = lr / (1 - beta1^t); bias_correction2_sqrt = sqrt(1 - beta2^t)
      scalars.set('optimizer.adamw.step_size', (v, t) => v / (1 - beta1 ** t));
      scalars.set('optimizer.adamw.bias2_sqrt', (_v, t) => Math.sqrt(1 - beta2 ** t));
      const shrink = new Map<number, Sym>();
      params.forEach((p, i) => {
        const g = grads[i]!;
        const wd = decayOf(spec.weightDecay, p.name, 0.01);
        let decayed: Sym = p;
        if (wd > 0) {
          let f = shrink.get(wd);
          if (!f) {
            f = b.sub(1, b.mul(lr, wd)); // p *= 1 - lr * wd (decoupled)
            shrink.set(wd, f);
          }
          decayed = b.mul(p, f);
        }
        const m = slot(p, 'exp_avg');
        const v = slot(p, 'exp_avg_sq');
        const m1 = b.add(b.mul(m.node, beta1), b.mul(g, 1 - beta1));
        const v1 = b.add(b.mul(v.node, beta2), b.mul(b.mul(g, g), 1 - beta2));
        const denom = b.add(b.div(b.sqrt(v1), bias2Sqrt), eps);
        emit(m.slot.output, m1);
        emit(v.slot.output, v1);
        const out = nextName(p.name);
        emit(out, b.sub(decayed, b.mul(stepSize, b.div(m1, denom))));
        nextParams.set(p.name, out);
      });
    } else {
      const momentum = spec.momentum ?? 0;
      params.forEach((p, i) => {
        let d = grads[i]!;
        const wd = decayOf(spec.weightDecay, p.name, 0);
        if (wd > 0) d = b.add(d, b.mul(p, wd));
        if (momentum > 0) {
          // PyTorch clones d into the buffer on the first step; with dampening 0 a zero buffer gives the same.
          const buf = slot(p, 'momentum_buffer');
          const buf1 = b.add(b.mul(buf.node, momentum), d);
          emit(buf.slot.output, buf1);
          d = spec.nesterov ? b.add(d, b.mul(buf1, momentum)) : buf1;
        }
        const out = nextName(p.name);
        emit(out, b.sub(p, b.mul(lr, d)));
        nextParams.set(p.name, out);
      });
    }
  });
  return { nextParams, state, scalars };
}

/**
 * torch.nn.utils.clip_grad_norm_: total = sqrt(sum of squares of every gradient);
 * each gradient is scaled by min(1, maxNorm / (total + 1e-6)). Returns the scaled gradients and
 * the total norm before clipping.
 */
export function clipGradNorm(b: GraphBuilder, grads: readonly Sym[], maxNorm: number): { grads: Sym[]; totalNorm: Sym } {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  return b.within('clip_grad_norm', () => {
    const totalNorm = gradNorm(b, grads);
    const coef = b.minimum(b.div(maxNorm, b.add(totalNorm, 1e-6)), 1);
    return { grads: grads.map((g) => b.mul(g, coef)), totalNorm };
  });
}

/** The global L2 norm of a list of gradients. */
export function gradNorm(b: GraphBuilder, grads: readonly Sym[]): Sym {
  if (grads.length === 0) return b.scalar(0);
  let sum: Sym | null = null;
  for (const g of grads) {
    const sq = b.sumAll(b.mul(g, g));
    sum = sum ? b.add(sum, sq) : sq;
  }
  return b.sqrt(sum!);
}
