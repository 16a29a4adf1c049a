/**
 * Parameter initialisers as data (so a graph can be described, serialised and re-initialised),
 * with PyTorch's conventions for fans. Each parameter draws from its own stream, derived from the
 * seed and its name, so adding a parameter never changes the others.
 */
import { createRng, hashString } from './rng.js';
import { sizeOf, type Shape } from './tensor-data.js';

export type Initializer =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  /** Normal(mean, std) redrawn until inside [low, high] (PyTorch trunc_normal_). */
  | { readonly kind: 'truncNormal'; readonly mean: number; readonly std: number; readonly low: number; readonly high: number }
  /** Glorot: U(-b, b), b = gain * sqrt(6 / (fanIn + fanOut)). */
  | { readonly kind: 'xavierUniform'; readonly gain: number }
  /** He: U(-b, b), b = sqrt(6 / ((1 + a^2) fanIn)); a = sqrt(5) is PyTorch's default for conv/linear. */
  | { readonly kind: 'kaimingUniform'; readonly a: number }
  /** No default: the value must come from a weights file (pretrained backbones, running stats). */
  | { readonly kind: 'external'; readonly hint?: string };

export const zeros: Initializer = { kind: 'zeros' };
export const ones: Initializer = { kind: 'ones' };

/** PyTorch's fan computation: dim 1 is fan-in, dim 0 fan-out, times the receptive field. */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fan in/out need rank >= 2, got [${shape.join(',')}]`);
  const receptive = shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/** The default bias init of torch.nn.Conv2d / Linear: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function torchBiasInit(fanIn: number): Initializer {
  const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return { kind: 'uniform', low: -b, high: b };
}

export function initialize(name: string, shape: Shape, init: Initializer, seed: number): Float32Array {
  const out = new Float32Array(sizeOf(shape));
  const rng = createRng(hashString(name, seed));
  switch (init.kind) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'constant':
      return out.fill(init.value);
    case 'uniform':
      return rng.fillUniform(out, init.low, init.high);
    case 'normal':
      return rng.fillNormal(out, init.mean, init.std);
    case 'truncNormal': {
      for (let i = 0; i < out.length; i++) {
        let v: number;
        do v = init.mean + init.std * rng.normal();
        while (v < init.low || v > init.high);
        out[i] = v;
      }
      return out;
    }
    case 'xavierUniform': {
      const { fanIn, fanOut } = fans(shape);
      const b = init.gain * Math.sqrt(6 / (fanIn + fanOut));
      return rng.fillUniform(out, -b, b);
    }
    case 'kaimingUniform': {
      const { fanIn } = fans(shape);
      const b = Math.sqrt(6 / ((1 + init.a * init.a) * fanIn));
      return rng.fillUniform(out, -b, b);
    }
    case 'external':
      throw new Error(`parameter "${name}" has no initialiser: load it from a weights file${init.hint ? ` (${init.hint})` : ''}`);
  }
}
