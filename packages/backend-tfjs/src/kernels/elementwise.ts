/** Elementwise ops: unary, binary (numpy broadcasting), comparisons, where, cast. */
import * as tf from '@tensorflow/tfjs';
import type { KernelTable } from './types.js';
import { arg } from './types.js';
import { reduceTo, withGradient, zeroGradient } from './custom-grad.js';

type ElementwiseOps =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'relu'
  | 'sigmoid'
  | 'tanh'
  | 'erf'
  | 'gelu'
  | 'silu'
  | 'clip'
  | 'cast'
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'greater'
  | 'less'
  | 'equal'
  | 'where';

const SQRT1_2 = Math.SQRT1_2;

function unary(op: string, f: (x: tf.Tensor) => tf.Tensor) {
  return (inputs: readonly tf.Tensor[]): tf.Tensor => f(arg(inputs, 0, op));
}

function binary(op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) {
  return (inputs: readonly tf.Tensor[]): tf.Tensor => f(arg(inputs, 0, op), arg(inputs, 1, op));
}

/** Comparisons are piecewise constant: zero gradient (see `zeroGradient`). */
function comparison(op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) {
  const g = zeroGradient((a, b) => f(a!, b!));
  return (inputs: readonly tf.Tensor[]): tf.Tensor => g(arg(inputs, 0, op), arg(inputs, 1, op));
}

/** x != 0 as bool. (tfjs-wasm's Cast to bool truncates to a byte: -2.7 becomes 254, 0.5 becomes 0.) */
const toBool = zeroGradient((x) => tf.notEqual(x!, tf.scalar(0, x!.dtype)));
const toInt = zeroGradient((x) => tf.cast(x!, 'int32'));

/**
 * maximum / minimum. With equal shapes tfjs's own op and gradient are right; with broadcasting,
 * tfjs's Maximum/Minimum gradients come back at the broadcast shape (not summed to the operand's),
 * so the gradient is written here: dy to `a` where a wins (ties go to a, as in tfjs and TF), the
 * rest to `b`, each summed back to its operand's shape.
 */
function extremum(op: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, aWins: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) {
  const broadcasting = withGradient(([a, b], save) => {
    save([a!, b!]);
    return {
      value: f(a!, b!),
      gradFunc: (dy, [sa, sb]) => {
        const ga = tf.mul(dy, tf.cast(aWins(sa!, sb!), 'float32'));
        return [reduceTo(ga, sa!.shape), reduceTo(tf.sub(dy, ga), sb!.shape)];
      },
    };
  });
  return (inputs: readonly tf.Tensor[]): tf.Tensor => {
    const a = arg(inputs, 0, op);
    const b = arg(inputs, 1, op);
    const same = a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]);
    return same ? f(a, b) : broadcasting(a, b);
  };
}

export const elementwiseKernels: Pick<KernelTable, ElementwiseOps> = {
  neg: unary('neg', (x) => tf.neg(x)),
  abs: unary('abs', (x) => tf.abs(x)),
  sign: unary('sign', (x) => tf.sign(x)),
  exp: unary('exp', (x) => tf.exp(x)),
  log: unary('log', (x) => tf.log(x)),
  sqrt: unary('sqrt', (x) => tf.sqrt(x)),
  relu: unary('relu', (x) => tf.relu(x)),
  sigmoid: unary('sigmoid', (x) => tf.sigmoid(x)),
  tanh: unary('tanh', (x) => tf.tanh(x)),
  erf: unary('erf', (x) => tf.erf(x)),
  // Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), from differentiable pieces.
  gelu: unary('gelu', (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1))),
  silu: unary('silu', (x) => tf.mul(x, tf.sigmoid(x))),
  clip: (inputs, a) => tf.clipByValue(arg(inputs, 0, 'clip'), a.min, a.max),
  // float -> int truncates toward zero (as PyTorch .to(int32)); anything -> bool is "!= 0".
  cast: (inputs, a) => {
    const x = arg(inputs, 0, 'cast');
    if (x.dtype === a.to) return tf.clone(x);
    if (a.to === 'bool') return toBool(x);
    if (a.to === 'int32') return toInt(x);
    return tf.cast(x, a.to);
  },
  add: binary('add', (a, b) => tf.add(a, b)),
  sub: binary('sub', (a, b) => tf.sub(a, b)),
  mul: binary('mul', (a, b) => tf.mul(a, b)),
  div: binary('div', (a, b) => tf.div(a, b)),
  pow: binary('pow', (a, b) => tf.pow(a, b)),
  maximum: extremum(
    'maximum',
    (a, b) => tf.maximum(a, b),
    (a, b) => tf.greaterEqual(a, b),
  ),
  minimum: extremum(
    'minimum',
    (a, b) => tf.minimum(a, b),
    (a, b) => tf.lessEqual(a, b),
  ),
  greater: comparison('greater', (a, b) => tf.greater(a, b)),
  less: comparison('less', (a, b) => tf.less(a, b)),
  equal: comparison('equal', (a, b) => tf.equal(a, b)),
  // tf.where broadcasts condition and both branches (tfjs >= 3).
  where: (inputs) => tf.where(arg(inputs, 0, 'where'), arg(inputs, 1, 'where'), arg(inputs, 2, 'where')),
};
