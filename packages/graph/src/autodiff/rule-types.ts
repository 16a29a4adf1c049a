import type { OpNode, Sym } from '../graph.js';
import type { OpName } from '../ops/attrs.js';
import type { GradOps } from './grad-ops.js';

/** What a gradient rule sees: the forward node, the adjoint of its output, and which inputs need one. */
export interface GradContext<K extends OpName> {
  readonly node: OpNode<K>;
  /** The forward output (the node itself, as a value rules can reuse). */
  readonly y: Sym;
  /** d loss / d node, shaped like the node. */
  readonly dy: Sym;
  /** needs[i]: input i lies on a path from a `wrt` to the loss (compute nothing for the others). */
  readonly needs: readonly boolean[];
  readonly g: GradOps;
}

/**
 * One entry per input: its adjoint contribution (shaped like that input), or null/undefined for
 * "no gradient" (not needed, or not differentiable).
 */
export type InputGrads = ReadonlyArray<Sym | null | undefined>;

export type GradRule<K extends OpName> = (ctx: GradContext<K>) => InputGrads;

/** Every op has a rule: a missing one fails to compile. */
export type GradRuleTable = { readonly [K in OpName]: GradRule<K> };

/** For ops whose output carries no gradient (comparisons, casts, sign): the flow stops there. */
export const noGradient = (): InputGrads => [];
