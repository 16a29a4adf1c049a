/**
 * Optimizers as graph ops appended to the step graph (PyTorch semantics). Per-step numbers (the
 * learning rate, AdamW's bias corrections) are scalar inputs computed in JS in float64, so one
 * static graph serves every step; optimizer state (moments, momentum buffers) are graph inputs
 * whose updated values are outputs, carried by the backend from one step to the next.
 */
import type { GraphBuilder, Sym } from '@unias/graph';

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

/** A tensor the optimizer updates: a param, or (flat layout) several params laid end to end. */
export interface UpdateTarget {
  /** Names its state inputs and outputs. */
  readonly name: string;
  /** Its current value in the graph (a param node or an input). */
  readonly value: Sym;
  readonly grad: Sym;
  readonly weightDecay: number;
  /**
   * A scalar the gradient is to be multiplied by (clip_grad_norm_'s coefficient), folded into the
   * optimizer's per-step scalars instead of a pass over the gradient.
   */
  readonly gradScale?: Sym;
  /** grad * grad when the graph already has it (the clipping norm's squares). */
  readonly gradSquared?: Sym;
}

/** One optimizer state tensor of one target: fed as `input`, updated as `output`, zero at step 0. */
export interface StateSlot {
  readonly target: string;
  /** What it holds: "exp_avg", "exp_avg_sq" or "momentum_buffer". */
  readonly kind: string;
  readonly input: string;
  readonly output: string;
  readonly shape: readonly number[];
}

export interface OptimizerGraph {
  /** Updated value of each target, as an output name (target name -> output name). */
  readonly next: ReadonlyMap<string, string>;
  readonly state: readonly StateSlot[];
  /** Scalar inputs and how to compute them for a step: (lr, t) with t = 1 on the first step. */
  readonly scalars: ReadonlyMap<string, (lr: number, t: number) => number>;
}

export const LR_INPUT = 'optimizer.lr';

/** The weight decay of a param under an optimizer (defaults as PyTorch: AdamW 0.01, SGD 0). */
export function weightDecayOf(spec: OptimizerSpec, name: string): number {
  const wd = spec.weightDecay;
  const v = wd === undefined ? (spec.kind === 'adamw' ? 0.01 : 0) : typeof wd === 'number' ? wd : wd(name);
  if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`weight decay for "${name}" must be a finite number >= 0, got ${v}`);
  return v;
}

/** The names of the state an optimizer keeps per updated tensor. */
export function stateKinds(spec: OptimizerSpec): readonly string[] {
  if (spec.kind === 'adamw') return ['exp_avg', 'exp_avg_sq'];
  return (spec.momentum ?? 0) > 0 ? ['momentum_buffer'] : [];
}

/** `<kind>.<state>.<target>`: the input name of a state tensor (e.g. "adamw.exp_avg.conv.weight"). */
export function stateName(spec: OptimizerSpec, kind: string, target: string): string {
  return `${spec.kind}.${kind}.${target}`;
}

/** `next.<name>`: the output name of an updated param or state tensor. */
export function nextName(name: string): string {
  return `next.${name}`;
}

/**
 * Appends the update of each target given its gradient. Returns which outputs are the new values
 * and state, and which scalar inputs each step must feed.
 */
export function appendOptimizer(b: GraphBuilder, spec: OptimizerSpec, targets: readonly UpdateTarget[]): OptimizerGraph {
  if (!(spec.lr >= 0)) throw new Error(`${spec.kind}: lr must be >= 0, got ${spec.lr}`);
  const lr = b.input(LR_INPUT, []);
  const next = new Map<string, string>();
  const state: StateSlot[] = [];
  const scalars = new Map<string, (lr: number, t: number) => number>([[LR_INPUT, (v) => v]]);
  const slot = (t: UpdateTarget, kind: string): { node: Sym; slot: StateSlot } => {
    const input = stateName(spec, kind, t.name);
    const s: StateSlot = { target: t.name, kind, input, output: nextName(input), shape: t.value.shape };
    state.push(s);
    return { node: b.input(input, t.value.shape), slot: s };
  };
  const emit = (name: string, value: Sym) => b.output(name, value);

  b.within('optimizer', () => {
    if (spec.kind === 'adamw') {
      const [beta1, beta2] = spec.betas ?? [0.9, 0.999];
      const eps = spec.eps ?? 1e-8;
      // PyTorch: p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), computed as
      // m / (sqrt(v) + eps * sqrt(1 - beta2^t)) times one scalar: two passes fewer over the
      // moments (equal to float32 rounding). Both scalars in float64, in JS.
      const stepSize = b.input('optimizer.adamw.step_size', []);
      const epsScaled = b.input('optimizer.adamw.eps_scaled', []);
      scalars.set('optimizer.adamw.step_size', (v, t) => (v / (1 - beta1 ** t)) * Math.sqrt(1 - beta2 ** t));
      scalars.set('optimizer.adamw.eps_scaled', (_v, t) => eps * Math.sqrt(1 - beta2 ** t));
      const shrink = new Map<number, Sym>();
      const gradScales = new Map<Sym, { first: Sym; second: Sym }>();
      for (const t of targets) {
        const p = t.value;
        const g = t.grad;
        let decayed: Sym = p;
        if (t.weightDecay > 0) {
          let f = shrink.get(t.weightDecay);
          if (!f) {
            f = b.sub(1, b.mul(lr, t.weightDecay)); // p *= 1 - lr * wd (decoupled)
            shrink.set(t.weightDecay, f);
          }
          decayed = b.mul(p, f);
        }
        // (1 - beta1) c g and (1 - beta2) (c g)^2 with the clip coefficient c in the scalars
        let first: Sym | number = 1 - beta1;
        let second: Sym | number = 1 - beta2;
        if (t.gradScale) {
          let scales = gradScales.get(t.gradScale);
          if (!scales) {
            scales = { first: b.mul(t.gradScale, 1 - beta1), second: b.mul(b.mul(t.gradScale, t.gradScale), 1 - beta2) };
            gradScales.set(t.gradScale, scales);
          }
          ({ first, second } = scales);
        }
        const m = slot(t, 'exp_avg');
        const v = slot(t, 'exp_avg_sq');
        const m1 = b.add(b.mul(m.node, beta1), b.mul(g, first));
        const v1 = b.add(b.mul(v.node, beta2), b.mul(t.gradSquared ?? b.mul(g, g), second));
        emit(m.slot.output, m1);
        emit(v.slot.output, v1);
        const out = nextName(t.name);
        emit(out, b.sub(decayed, b.mul(b.div(m1, b.add(b.sqrt(v1), epsScaled)), stepSize)));
        next.set(t.name, out);
      }
    } else {
      const momentum = spec.momentum ?? 0;
      for (const t of targets) {
        const p = t.value;
        let d = t.grad;
        if (t.weightDecay > 0) d = b.add(d, b.mul(p, t.weightDecay));
        if (momentum > 0) {
          // PyTorch clones d into the buffer on the first step; with dampening 0 a zero buffer gives the same.
          const buf = slot(t, 'momentum_buffer');
          const buf1 = b.add(b.mul(buf.node, momentum), d);
          emit(buf.slot.output, buf1);
          d = spec.nesterov ? b.add(d, b.mul(buf1, momentum)) : buf1;
        }
        const out = nextName(t.name);
        emit(out, b.sub(p, b.mul(lr, d)));
        next.set(t.name, out);
      }
    }
  });
  return { next, state, scalars };
}

/**
 * torch.nn.utils.clip_grad_norm_: total = sqrt(sum of squares of every gradient);
 * each gradient is scaled by min(1, maxNorm / (total + 1e-6)). Returns the scaled gradients and
 * the total norm before clipping.
 */
export function clipGradNorm(b: GraphBuilder, grads: readonly Sym[], maxNorm: number): { grads: Sym[]; totalNorm: Sym } {
  const { coef, totalNorm } = clipCoefficient(b, grads, maxNorm);
  return b.within('clip_grad_norm', () => ({ grads: grads.map((g) => b.mul(g, coef)), totalNorm }));
}

/**
 * clip_grad_norm_'s coefficient min(1, maxNorm / (total + 1e-6)) without scaling the gradients
 * (an optimizer can fold it into its scalars), with the squares the norm was summed from.
 */
export function clipCoefficient(b: GraphBuilder, grads: readonly Sym[], maxNorm: number): { coef: Sym; totalNorm: Sym; squares: Sym[] } {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  return b.within('clip_grad_norm', () => {
    const { norm: totalNorm, squares } = normWithSquares(b, grads);
    const coef = b.minimum(b.div(maxNorm, b.add(totalNorm, 1e-6)), 1);
    return { coef, totalNorm, squares };
  });
}

/** The global L2 norm of a list of gradients. */
export function gradNorm(b: GraphBuilder, grads: readonly Sym[]): Sym {
  return normWithSquares(b, grads).norm;
}

function normWithSquares(b: GraphBuilder, grads: readonly Sym[]): { norm: Sym; squares: Sym[] } {
  if (grads.length === 0) return { norm: b.scalar(0), squares: [] };
  let sum: Sym | null = null;
  const squares: Sym[] = [];
  for (const g of grads) {
    const sq = b.mul(g, g);
    squares.push(sq);
    const total = b.sumAll(sq);
    sum = sum ? b.add(sum, total) : total;
  }
  return { norm: b.sqrt(sum!), squares };
}
