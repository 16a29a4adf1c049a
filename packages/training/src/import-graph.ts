/**
 * Rebuilds a finished graph inside a builder (same input, param and output names, same random
 * specs), so a step graph can be appended to a model given as a Graph.
 */
import type { AnyOpNode, Graph, GraphBuilder, Node, OpName, OpNode, ParamNode, Sym } from '@unias/graph';

function rebuildOp<K extends OpName>(b: GraphBuilder, node: OpNode<K>, inputs: readonly Sym[]): Sym {
  const made = b.op(node.op, inputs, node.attrs);
  return made as AnyOpNode;
}

export interface ImportOptions {
  /** A symbol to use instead of a param (e.g. a slice of a flat parameter vector). */
  readonly substitute?: (param: ParamNode) => Sym | undefined;
}

/** Adds every node of `graph` to `b`; returns the new symbol of each old node id. */
export function importGraph(b: GraphBuilder, graph: Graph, options: ImportOptions = {}): Map<number, Sym> {
  const map = new Map<number, Sym>();
  const get = (n: Node): Sym => {
    const s = map.get(n.id);
    if (!s) throw new Error(`importGraph: node #${n.id} used before it was defined (nodes not in topological order)`);
    return s;
  };
  for (const n of graph.nodes) {
    switch (n.kind) {
      case 'input': {
        const spec = graph.random.get(n.name);
        map.set(n.id, spec ? b.randomInput(n.name, n.shape, spec) : b.input(n.name, n.shape, n.dtype));
        break;
      }
      case 'param':
        map.set(n.id, options.substitute?.(n) ?? b.param(n.name, n.shape, n.init, { trainable: n.trainable }));
        break;
      case 'const':
        map.set(n.id, b.constant(n.data, n.shape, n.dtype));
        break;
      case 'op': {
        const inputs = n.inputs.map(get);
        map.set(n.id, n.scope ? b.within(n.scope, () => rebuildOp(b, n, inputs)) : rebuildOp(b, n, inputs));
        break;
      }
    }
  }
  for (const [name, n] of graph.outputs) b.output(name, get(n));
  return map;
}
