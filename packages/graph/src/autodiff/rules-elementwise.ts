/** Gradients of the elementwise ops (unary, broadcasting binary, where, clip). */
import type { Sym } from '../graph.js';
import type { GradContext, GradRule, InputGrads } from './rule-types.js';

const SQRT_2 = Math.SQRT2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

type Unary = 'neg' | 'abs' | 'exp' | 'log' | 'sqrt' | 'relu' | 'sigmoid' | 'tanh' | 'erf' | 'gelu' | 'silu' | 'clip';

/** d/dx of a unary op, times dy. `y` is the forward node itself (reused, never recomputed). */
function unary<K extends Unary>(fn: (ctx: GradContext<K>, x: Sym, y: Sym) => Sym): GradRule<K> {
  return (ctx) => (ctx.needs[0] ? [fn(ctx, ctx.node.inputs[0]!, ctx.y)] : []);
}

export const neg = unary<'neg'>(({ g, dy }) => g.neg(dy));
// sign(0) = 0: PyTorch's subgradient of |x| at 0.
export const abs = unary<'abs'>(({ g, dy }, x) => g.mul(dy, g.sign(x)));
export const exp = unary<'exp'>(({ g, dy }, _x, y) => g.mul(dy, y));
export const log = unary<'log'>(({ g, dy }, x) => g.div(dy, x));
export const sqrt = unary<'sqrt'>(({ g, dy }, _x, y) => g.div(dy, g.mul(y, 2)));
// relu'(0) = 0, as PyTorch. dy * (x > 0) rather than where(x > 0, dy, 0): ORT runs Where on one
// thread and 2-3x slower than Greater, Cast and Mul together (the `cpu` step's kernels at
// 224x224: Where -5.4 ms, Cast and Mul +2.7). Only a non-finite dy where x <= 0 differs (NaN for 0).
export const relu = unary<'relu'>(({ g, dy }, x) => g.mul(dy, g.cast(g.greater(x, 0), 'float32')));
export const sigmoid = unary<'sigmoid'>(({ g, dy }, _x, y) => g.mul(dy, g.mul(y, g.sub(1, y))));
export const tanh = unary<'tanh'>(({ g, dy }, _x, y) => g.mul(dy, g.sub(1, g.square(y))));
export const erf = unary<'erf'>(({ g, dy }, x) => g.mul(dy, g.mul(g.exp(g.neg(g.square(x))), TWO_OVER_SQRT_PI)));
/** Exact GELU: d/dx [x Phi(x)] = Phi(x) + x phi(x). */
export const gelu = unary<'gelu'>(({ g, dy }, x) => {
  const cdf = g.mul(g.add(g.erf(g.div(x, SQRT_2)), 1), 0.5);
  const pdf = g.mul(g.exp(g.mul(g.square(x), -0.5)), INV_SQRT_2PI);
  return g.mul(dy, g.add(cdf, g.mul(x, pdf)));
});
/** d/dx [x s(x)] = s (1 + x (1 - s)). */
export const silu = unary<'silu'>(({ g, dy }, x) => {
  const s = g.sigmoid(x);
  return g.mul(dy, g.mul(s, g.add(g.mul(x, g.sub(1, s)), 1)));
});
/** Passes where min <= x <= max (bounds inclusive, as torch.clamp). */
export const clip = unary<'clip'>(({ g, dy, node }, x) => {
  const { min, max } = node.attrs;
  return g.where(g.less(x, min), 0, g.where(g.greater(x, max), 0, dy));
});

type Binary = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';

/** A broadcasting binary op: each operand's gradient is summed back to its own shape. */
function binary<K extends Binary>(da: (ctx: GradContext<K>, a: Sym, b: Sym) => Sym, db: (ctx: GradContext<K>, a: Sym, b: Sym) => Sym): GradRule<K> {
  return (ctx) => {
    const [a, b] = ctx.node.inputs as [Sym, Sym];
    const out: Array<Sym | null> = [null, null];
    if (ctx.needs[0]) out[0] = ctx.g.unbroadcast(da(ctx, a, b), a.shape);
    if (ctx.needs[1]) out[1] = ctx.g.unbroadcast(db(ctx, a, b), b.shape);
    return out;
  };
}

export const add = binary<'add'>(
  ({ dy }) => dy,
  ({ dy }) => dy,
);
export const sub = binary<'sub'>(
  ({ dy }) => dy,
  ({ g, dy }) => g.neg(dy),
);
export const mul = binary<'mul'>(
  ({ g, dy }, _a, b) => g.mul(dy, b),
  ({ g, dy }, a) => g.mul(dy, a),
);
export const div = binary<'div'>(
  ({ g, dy }, _a, b) => g.div(dy, b),
  // d(a/b)/db = -a/b^2 = -y/b
  ({ g, dy, y }, _a, b) => g.neg(g.div(g.mul(dy, y), b)),
);
/**
 * d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log a, taken as 0 where a <= 0 (the real power is only
 * differentiable in b for a > 0; PyTorch gives 0 at a = 0 and NaN below).
 */
export const pow = binary<'pow'>(
  ({ g, dy }, a, b) => g.mul(dy, g.mul(b, g.pow(a, g.sub(b, 1)))),
  ({ g, dy, y }, a) => g.mul(dy, g.where(g.greater(a, 0), g.mul(y, g.log(a)), 0)),
);

/**
 * maximum/minimum route dy to the operand that won; at ties each gets half (PyTorch's rule).
 * `share` is 1 where a won, 0.5 at a tie, 0 where b won.
 */
function extremum<K extends 'maximum' | 'minimum'>(wins: 'greater' | 'less'): GradRule<K> {
  const share = (ctx: GradContext<K>, a: Sym, b: Sym) => {
    const { g } = ctx;
    return g.where(g[wins](a, b), 1, g.where(g.equal(a, b), 0.5, 0));
  };
  return binary<K>(
    (ctx, a, b) => ctx.g.mul(ctx.dy, share(ctx, a, b)),
    (ctx, a, b) => ctx.g.mul(ctx.dy, ctx.g.sub(1, share(ctx, a, b))),
  );
}
export const maximum = extremum<'maximum'>('greater');
export const minimum = extremum<'minimum'>('less');

/** where(c, a, b): dy goes to a where c holds, to b elsewhere; the condition gets none. */
export const where: GradRule<'where'> = (ctx): InputGrads => {
  const { g, dy, needs } = ctx;
  const [c, a, b] = ctx.node.inputs as [Sym, Sym, Sym];
  return [null, needs[1] ? g.unbroadcast(g.where(c, dy, 0), a.shape) : null, needs[2] ? g.unbroadcast(g.where(c, 0, dy), b.shape) : null];
};
