import type { OpAttrMap, OpName } from './ops/attrs.js';
import type { Initializer } from './init.js';
import type { AnyTypedArray, DType, Shape } from './tensor-data.js';

interface NodeBase {
  /** Unique within its graph; nodes are created in topological order, so ids increase along edges. */
  readonly id: number;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A value fed at run time (an image batch, a dropout mask, the learning rate). */
export interface InputNode extends NodeBase {
  readonly kind: 'input';
  readonly name: string;
}

/** A named parameter: learned (trainable) or frozen (a backbone, batch-norm statistics). */
export interface ParamNode extends NodeBase {
  readonly kind: 'param';
  readonly name: string;
  readonly trainable: boolean;
  readonly init: Initializer;
}

/** A value known when the graph is built (a blur kernel, positional encodings, scalars). */
export interface ConstNode extends NodeBase {
  readonly kind: 'const';
  readonly data: AnyTypedArray;
}

export interface OpNode<K extends OpName = OpName> extends NodeBase {
  readonly kind: 'op';
  readonly op: K;
  readonly inputs: readonly Node[];
  readonly attrs: OpAttrMap[K];
  /** Name scope the op was built in, for errors and ONNX node names. */
  readonly scope: string;
}

/** Discriminated by `op`, so a `switch (node.op)` narrows `attrs`. */
export type AnyOpNode = { [K in OpName]: OpNode<K> }[OpName];

export type Node = InputNode | ParamNode | ConstNode | AnyOpNode;

/** What model code holds: a symbolic tensor. */
export type Sym = Node;

/**
 * How a random input is drawn each run (dropout masks, feature noise). Randomness is drawn in JS
 * from a seeded Rng and fed as inputs, so every backend sees the same numbers.
 */
export type RandomSpec =
  /** 0 with probability p, else 1 / (1 - p): an inverted-dropout mask. */
  | { readonly kind: 'dropout'; readonly p: number }
  /** 1 with probability p, else 0. */
  | { readonly kind: 'bernoulli'; readonly p: number }
  /**
   * Standard normal (the Rng's ziggurat fill). With `gate`, the one-element bernoulli input right
   * after this one, that the graph multiplies the noise by: the gate is drawn first, and when it
   * draws 0 the noise is fed as zeros and draws nothing, which changes nothing the graph computes.
   */
  | { readonly kind: 'normal'; readonly gate?: string };

/** A finished graph: its nodes in topological order and its named outputs. */
export interface Graph {
  readonly nodes: readonly Node[];
  readonly inputs: ReadonlyMap<string, InputNode>;
  readonly params: ReadonlyMap<string, ParamNode>;
  readonly outputs: ReadonlyMap<string, Node>;
  /** Inputs that hold random draws, and how to draw them (empty for inference graphs). */
  readonly random: ReadonlyMap<string, RandomSpec>;
}

/** Nodes reachable from the given outputs, in topological order. */
export function reachable(outputs: Iterable<Node>): Node[] {
  const seen = new Set<number>();
  const list: Node[] = [];
  const stack: Node[] = [...outputs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    list.push(n);
    if (n.kind === 'op') for (const i of n.inputs) if (!seen.has(i.id)) stack.push(i);
  }
  return list.sort((a, b) => a.id - b.id);
}

/** The graph restricted to what its outputs need (unused inputs and params dropped). */
export function prune(graph: Graph, outputNames?: readonly string[]): Graph {
  const names = outputNames ?? [...graph.outputs.keys()];
  const outputs = new Map<string, Node>();
  for (const name of names) {
    const n = graph.outputs.get(name);
    if (!n) throw new Error(`graph has no output "${name}" (outputs: ${[...graph.outputs.keys()].join(', ')})`);
    outputs.set(name, n);
  }
  const nodes = reachable(outputs.values());
  const random = new Map<string, RandomSpec>();
  const inputs = new Map<string, InputNode>();
  const params = new Map<string, ParamNode>();
  for (const n of nodes) {
    if (n.kind === 'input') {
      inputs.set(n.name, n);
      const spec = graph.random.get(n.name);
      if (spec) random.set(n.name, spec);
    } else if (n.kind === 'param') params.set(n.name, n);
  }
  return { nodes, inputs, params, outputs, random };
}

/** How many op nodes use each node, counting graph outputs as uses (for freeing memory early). */
export function useCounts(graph: Graph): Map<number, number> {
  const uses = new Map<number, number>();
  for (const n of graph.nodes) {
    if (n.kind !== 'op') continue;
    for (const i of n.inputs) uses.set(i.id, (uses.get(i.id) ?? 0) + 1);
  }
  for (const o of graph.outputs.values()) uses.set(o.id, (uses.get(o.id) ?? 0) + 1);
  return uses;
}

/** Short description of a node for error messages. */
export function describeNode(n: Node): string {
  const shape = `[${n.shape.join(',')}]`;
  switch (n.kind) {
    case 'input':
      return `input "${n.name}" ${shape}`;
    case 'param':
      return `param "${n.name}" ${shape}`;
    case 'const':
      return `const #${n.id} ${shape}`;
    case 'op':
      return `${n.op} #${n.id}${n.scope ? ` in ${n.scope}` : ''} ${shape}`;
  }
}
