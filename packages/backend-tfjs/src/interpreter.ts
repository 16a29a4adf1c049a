/**
 * Eager interpreter: walks a pruned graph in topological order, one tfjs kernel per op node,
 * freeing each intermediate right after its last consumer ran, all inside one tidy scope.
 */
import * as tf from '@tensorflow/tfjs';
import {
  describeNode,
  formatShape,
  prune,
  useCounts,
  type AnyOpNode,
  type ConstNode,
  type Graph,
  type InputNode,
  type Node,
  type OpName,
  type OpNode,
  type ParamNode,
} from '@unias/graph';
import { TF_KERNELS, type KernelContext } from './kernels/index.js';

/** A graph prepared for repeated runs: pruned to its outputs, with use counts. */
export interface GraphProgram {
  readonly graph: Graph;
  readonly outputNames: readonly string[];
  readonly uses: ReadonlyMap<number, number>;
}

export function compileGraph(graph: Graph, outputs?: readonly string[]): GraphProgram {
  const outputNames = outputs ? [...outputs] : [...graph.outputs.keys()];
  const pruned = prune(graph, outputNames);
  return { graph: pruned, outputNames, uses: useCounts(pruned) };
}

/** Where leaf values come from. The tensors returned are borrowed: the interpreter never disposes them. */
export interface LeafSource {
  input(node: InputNode): tf.Tensor;
  param(node: ParamNode): tf.Tensor;
  constant(node: ConstNode): tf.Tensor;
}

function callKernel<K extends OpName>(node: OpNode<K>, args: readonly tf.Tensor[], ctx: KernelContext): tf.Tensor {
  const kernel = TF_KERNELS[node.op];
  return kernel(args, node.attrs, node, ctx);
}

/**
 * The batch a dynamic-batch run is at: every input of rank >= 1 leads with the batch (built and
 * fed), as in the ONNX backend's dynamicBatch. Null when it equals the built batch.
 */
function batchContext(inputs: ReadonlyArray<readonly [InputNode, tf.Tensor]>): KernelContext {
  let first: readonly [InputNode, tf.Tensor] | null = null;
  for (const entry of inputs) {
    const [node, t] = entry;
    if (node.shape.length === 0) continue;
    if (!first) {
      first = entry;
      continue;
    }
    const [n0, t0] = first;
    if (node.shape[0] !== n0.shape[0] || t.shape[0] !== t0.shape[0]) {
      throw new Error(
        `dynamicBatch: inputs disagree on dim 0 ("${n0.name}" built ${n0.shape[0]}, fed ${t0.shape[0]}; "${node.name}" built ${node.shape[0]}, fed ${t.shape[0]}); every input of rank >= 1 must lead with the batch`,
      );
    }
  }
  if (!first || first[0].shape[0] === first[1].shape[0]) return { batch: null };
  return { batch: { built: first[0].shape[0]!, actual: first[1].shape[0]! } };
}

function runOp(node: AnyOpNode, args: readonly tf.Tensor[], dynamicBatch: boolean, ctx: KernelContext): tf.Tensor {
  let out: tf.Tensor;
  try {
    out = callKernel(node, args, ctx);
  } catch (e) {
    const shapes = args.map((a) => formatShape(a.shape)).join(', ');
    throw new Error(`${describeNode(node)} failed on inputs ${shapes}: ${(e as Error).message}`, { cause: e });
  }
  // A kernel must not hand back one of its inputs: the input may be freed while the output lives.
  if (args.includes(out)) out = tf.clone(out);
  const shapeOk = dynamicBatch ? out.rank === node.shape.length : out.shape.every((d, i) => d === node.shape[i]) && out.rank === node.shape.length;
  if (out.dtype !== node.dtype || !shapeOk) {
    const got = `${out.dtype} ${formatShape(out.shape)}`;
    out.dispose();
    throw new Error(`${describeNode(node)}: kernel produced ${got}, the graph expects ${node.dtype} ${formatShape(node.shape)}`);
  }
  return out;
}

/**
 * Runs a program and returns its outputs by name. The returned tensors belong to the caller (an
 * output that is a leaf, or that appears under two names, is cloned), everything else is freed.
 * Synchronous, and built from differentiable tfjs ops, so it can run inside `tf.grads`.
 */
export function executeProgram(program: GraphProgram, leaves: LeafSource, dynamicBatch = false): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const values = new Map<number, tf.Tensor>();
    const owned = new Set<number>();
    const remaining = new Map(program.uses);
    const valueOf = (n: Node): tf.Tensor => {
      const v = values.get(n.id);
      if (!v) throw new Error(`internal: ${describeNode(n)} has no value (freed too early or not in topological order)`);
      return v;
    };
    const fed: Array<readonly [InputNode, tf.Tensor]> = [];
    for (const node of program.graph.inputs.values()) {
      const t = leaves.input(node);
      values.set(node.id, t);
      fed.push([node, t]);
    }
    const ctx: KernelContext = dynamicBatch ? batchContext(fed) : { batch: null };
    for (const node of program.graph.nodes) {
      switch (node.kind) {
        case 'input':
          continue;
        case 'param':
          values.set(node.id, leaves.param(node));
          continue;
        case 'const':
          values.set(node.id, leaves.constant(node));
          continue;
        case 'op':
          break;
      }
      const args = node.inputs.map(valueOf);
      values.set(node.id, runOp(node, args, dynamicBatch, ctx));
      owned.add(node.id);
      for (const i of node.inputs) {
        const left = (remaining.get(i.id) ?? 1) - 1;
        remaining.set(i.id, left);
        if (left === 0 && owned.has(i.id)) {
          values.get(i.id)?.dispose();
          values.delete(i.id);
        }
      }
    }
    const result: Record<string, tf.Tensor> = {};
    const handedOut = new Set<tf.Tensor>();
    for (const name of program.outputNames) {
      const node = program.graph.outputs.get(name);
      if (!node) throw new Error(`graph has no output "${name}"`);
      let t = valueOf(node);
      if (!owned.has(node.id) || handedOut.has(t)) t = tf.clone(t);
      handedOut.add(t);
      result[name] = t;
    }
    return result;
  });
}

/** Checks a leaf tensor against its node: dtype, rank and every dim (dim 0 free with a dynamic batch). */
export function checkLeaf(node: InputNode | ParamNode, t: tf.Tensor, dynamicBatch: boolean, what: string): void {
  const batchFree = dynamicBatch && node.kind === 'input';
  const shapeOk = t.rank === node.shape.length && t.shape.every((d, i) => d === node.shape[i] || (batchFree && i === 0));
  if (!shapeOk || t.dtype !== node.dtype) {
    throw new Error(
      `${what} "${node.name}" is ${t.dtype} ${formatShape(t.shape)}, the graph expects ${node.dtype} ${formatShape(node.shape)}${batchFree ? ' (any batch)' : ''}`,
    );
  }
}

export function constTensor(node: ConstNode): tf.Tensor {
  return tf.tensor(node.data, [...node.shape], node.dtype);
}

export interface RunGraphOptions {
  /** Outputs to compute (default: all). */
  readonly outputs?: readonly string[];
  /** Accept any size in dim 0 of the inputs. */
  readonly dynamicBatch?: boolean;
}

const programCache = new WeakMap<Graph, Map<string, GraphProgram>>();

function cachedProgram(graph: Graph, outputs?: readonly string[]): GraphProgram {
  let byOutputs = programCache.get(graph);
  if (!byOutputs) {
    byOutputs = new Map();
    programCache.set(graph, byOutputs);
  }
  const key = outputs ? JSON.stringify(outputs) : '*';
  let program = byOutputs.get(key);
  if (!program) {
    program = compileGraph(graph, outputs);
    byOutputs.set(key, program);
  }
  return program;
}

type TensorMap = Readonly<Record<string, tf.Tensor>> | ReadonlyMap<string, tf.Tensor>;

function lookup(map: TensorMap | undefined, name: string): tf.Tensor | undefined {
  if (!map) return undefined;
  if (map instanceof Map) return map.get(name);
  const record: Readonly<Record<string, tf.Tensor>> = map as Readonly<Record<string, tf.Tensor>>;
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

function checkFeedNames(graph: Graph, feeds: Readonly<Record<string, tf.Tensor>>): void {
  for (const name of Object.keys(feeds)) {
    if (!graph.inputs.has(name) && !graph.params.has(name)) {
      throw new Error(`runGraphTf: feed "${name}" is not an input or param of the graph (inputs: ${[...graph.inputs.keys()].join(', ')})`);
    }
  }
}

function leafSource(
  feeds: Readonly<Record<string, tf.Tensor>>,
  params: TensorMap | undefined,
  dynamicBatch: boolean,
  constant: (n: ConstNode) => tf.Tensor,
): LeafSource {
  return {
    input: (node) => {
      const t = lookup(feeds, node.name);
      if (!t) throw new Error(`runGraphTf: input "${node.name}" ${formatShape(node.shape)} was not fed`);
      checkLeaf(node, t, dynamicBatch, 'input');
      return t;
    },
    param: (node) => {
      const t = lookup(params, node.name) ?? lookup(feeds, node.name);
      if (!t) throw new Error(`runGraphTf: param "${node.name}" ${formatShape(node.shape)} was neither given nor fed`);
      checkLeaf(node, t, dynamicBatch, 'param');
      return t;
    },
    constant,
  };
}

export interface TfGraphRunner {
  /** As `runGraphTf`, with the graph's constants uploaded once and kept. */
  run(feeds: Readonly<Record<string, tf.Tensor>>, params?: TensorMap): Record<string, tf.Tensor>;
  /** Frees the resident constants. */
  dispose(): void;
}

/**
 * `runGraphTf` for repeated runs (a training loop): the graph is pruned once and its constants
 * (blur kernels, positional encodings, scalars) stay resident instead of being uploaded per call.
 */
export function createTfRunner(graph: Graph, options: RunGraphOptions = {}): TfGraphRunner {
  const program = compileGraph(graph, options.outputs);
  const dynamicBatch = options.dynamicBatch ?? false;
  const constants = new Map<number, tf.Tensor>();
  let disposed = false;
  const constant = (node: ConstNode): tf.Tensor => {
    let t = constants.get(node.id);
    if (!t) {
      t = tf.keep(constTensor(node));
      constants.set(node.id, t);
    }
    return t;
  };
  return {
    run(feeds, params) {
      if (disposed) throw new Error('runner is disposed');
      checkFeedNames(graph, feeds);
      return executeProgram(program, leafSource(feeds, params, dynamicBatch, constant), dynamicBatch);
    },
    dispose() {
      disposed = true;
      for (const t of constants.values()) t.dispose();
      constants.clear();
    },
  };
}

/**
 * Runs a graph on tf tensors: feeds by input name, params by name (or among the feeds). Returns the
 * outputs as new tensors owned by the caller; nothing else survives. Usable inside `tf.grads` /
 * `tf.variableGrads` (params may be `tf.Variable`s). Runs on the current global tfjs backend.
 */
export function runGraphTf(
  graph: Graph,
  feeds: Readonly<Record<string, tf.Tensor>>,
  params?: TensorMap,
  options: RunGraphOptions = {},
): Record<string, tf.Tensor> {
  const program = cachedProgram(graph, options.outputs);
  const dynamicBatch = options.dynamicBatch ?? false;
  checkFeedNames(graph, feeds);
  return executeProgram(program, leafSource(feeds, params, dynamicBatch, constTensor), dynamicBatch);
}
