/**
 * A prepared graph on one tfjs runtime. Bound params and constants are uploaded once and stay
 * resident; carried state stays as tf tensors between runs. Because tfjs has one global backend,
 * the session makes its own current before touching tensors (`onRuntime`: serialised, and the graph
 * runs synchronously right after the switch), so sessions on different runtimes can interleave.
 */
import type * as tf from '@tensorflow/tfjs';
import { formatShape, type Graph, type InputNode, type ParamNode, type PrepareOptions, type Session, type TensorData } from '@unias/graph';
import { fromTensor, toTensor } from './convert.js';
import { checkLeaf, compileGraph, constTensor, executeProgram, type GraphProgram } from './interpreter.js';
import { onRuntime, type TfjsRuntime } from './runtimes.js';

function sorted(names: Iterable<string>): string[] {
  return [...names].sort();
}

export class TfjsSession implements Session {
  readonly backend: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];

  private readonly program: GraphProgram;
  private readonly resident = new Map<number, tf.Tensor>();
  private readonly state = new Map<string, tf.Tensor>();
  /** carried input name -> its node (an input or a param of the full graph). */
  private readonly carriedNodes = new Map<string, InputNode | ParamNode>();
  private readonly carry: ReadonlyArray<readonly [output: string, input: string]>;
  private readonly feedNodes = new Map<string, InputNode | ParamNode>();
  private readonly dynamicBatch: boolean;
  private closed = false;

  private constructor(
    private readonly runtime: TfjsRuntime,
    graph: Graph,
    options: PrepareOptions,
  ) {
    this.backend = runtime.name;
    this.dynamicBatch = options.dynamicBatch ?? false;
    const requested = options.outputs ? [...options.outputs] : [...graph.outputs.keys()];
    const carry = Object.entries(options.carry ?? {});
    for (const [out, inp] of carry) {
      if (!graph.outputs.has(out)) throw new Error(`carry: "${out}" is not an output of the graph (outputs: ${[...graph.outputs.keys()].join(', ')})`);
      const node = graph.inputs.get(inp) ?? graph.params.get(inp);
      if (!node) throw new Error(`carry: "${inp}" (fed by output "${out}") is not an input or param of the graph`);
      if (options.params?.has(inp)) throw new Error(`carry: "${inp}" is carried state and cannot also be a bound param`);
      this.carriedNodes.set(inp, node);
    }
    this.carry = carry;
    const carriedOutputs = new Set(carry.map(([out]) => out));
    const computed = [...new Set([...requested, ...carriedOutputs])];
    this.program = compileGraph(graph, computed);
    this.outputNames = requested.filter((n) => !carriedOutputs.has(n));
    for (const name of options.params?.keys() ?? []) {
      if (!graph.params.has(name)) throw new Error(`params: "${name}" is not a param of the graph`);
    }
    for (const node of this.program.graph.inputs.values()) if (!this.carriedNodes.has(node.name)) this.feedNodes.set(node.name, node);
    for (const node of this.program.graph.params.values()) {
      if (!options.params?.has(node.name) && !this.carriedNodes.has(node.name)) this.feedNodes.set(node.name, node);
    }
    this.inputNames = sorted(this.feedNodes.keys());
  }

  static async create(runtime: TfjsRuntime, graph: Graph, options: PrepareOptions = {}): Promise<TfjsSession> {
    const session = new TfjsSession(runtime, graph, options);
    await onRuntime(runtime, () => {
      try {
        for (const node of session.program.graph.nodes) {
          if (node.kind === 'const') session.resident.set(node.id, constTensor(node));
          if (node.kind === 'param') {
            const value = options.params?.get(node.name);
            if (value) session.resident.set(node.id, session.upload(node, value, 'param'));
          }
        }
      } catch (e) {
        session.release();
        throw e;
      }
    });
    return session;
  }

  async run(feeds: Readonly<Record<string, TensorData>>): Promise<Record<string, TensorData>> {
    this.assertOpen();
    for (const name of Object.keys(feeds)) {
      if (!this.feedNodes.has(name)) {
        const why = this.carriedNodes.has(name) ? 'is carried state (use setState)' : 'is not an input of this session';
        throw new Error(`run: feed "${name}" ${why}; inputs: ${this.inputNames.join(', ') || 'none'}`);
      }
    }
    for (const name of this.feedNodes.keys()) {
      if (!Object.prototype.hasOwnProperty.call(feeds, name)) throw new Error(`run: missing feed "${name}"; inputs: ${this.inputNames.join(', ')}`);
    }
    for (const node of [...this.program.graph.inputs.values(), ...this.program.graph.params.values()]) {
      if (this.carriedNodes.has(node.name) && !this.state.has(node.name)) {
        throw new Error(`run: carried state "${node.name}" is not set; call setState first`);
      }
    }
    const outputs = await onRuntime(this.runtime, () => {
      const uploaded = new Map<string, tf.Tensor>();
      try {
        for (const [name, node] of this.feedNodes) uploaded.set(name, this.upload(node, feeds[name]!, node.kind === 'param' ? 'param' : 'input'));
        const out = executeProgram(
          this.program,
          {
            input: (node) => this.leaf(node, uploaded),
            param: (node) => this.resident.get(node.id) ?? this.leaf(node, uploaded),
            constant: (node) => {
              const t = this.resident.get(node.id);
              if (!t) throw new Error(`internal: constant #${node.id} was not uploaded`);
              return t;
            },
          },
          this.dynamicBatch,
        );
        for (const [o, inp] of this.carry) {
          this.state.get(inp)?.dispose();
          this.state.set(inp, out[o]!);
        }
        return out;
      } finally {
        for (const t of uploaded.values()) t.dispose();
      }
    });
    const result: Record<string, TensorData> = {};
    try {
      for (const name of this.outputNames) result[name] = await fromTensor(outputs[name]!, `output "${name}"`);
    } finally {
      for (const name of this.outputNames) outputs[name]!.dispose();
    }
    return result;
  }

  async setState(values: Readonly<Record<string, TensorData>>): Promise<void> {
    this.assertOpen();
    const entries = Object.entries(values);
    for (const [name] of entries) {
      if (!this.carriedNodes.has(name)) {
        throw new Error(`setState: "${name}" is not carried state; carried: ${sorted(this.carriedNodes.keys()).join(', ') || 'none'}`);
      }
    }
    const uploaded = await onRuntime(this.runtime, () => {
      const list: Array<[string, tf.Tensor]> = [];
      try {
        for (const [name, value] of entries) list.push([name, this.upload(this.carriedNodes.get(name)!, value, 'state')]);
      } catch (e) {
        for (const [, t] of list) t.dispose();
        throw e;
      }
      return list;
    });
    for (const [name, t] of uploaded) {
      this.state.get(name)?.dispose();
      this.state.set(name, t);
    }
  }

  async getState(): Promise<Record<string, TensorData>> {
    this.assertOpen();
    const out: Record<string, TensorData> = {};
    for (const [name, t] of this.state) out[name] = await fromTensor(t, `state "${name}"`);
    return out;
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.release();
  }

  private release(): void {
    this.closed = true;
    for (const t of this.resident.values()) t.dispose();
    for (const t of this.state.values()) t.dispose();
    this.resident.clear();
    this.state.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.backend} session is disposed`);
  }

  private leaf(node: InputNode | ParamNode, uploaded: ReadonlyMap<string, tf.Tensor>): tf.Tensor {
    const t = uploaded.get(node.name) ?? this.state.get(node.name);
    if (!t) throw new Error(`${node.kind} "${node.name}" ${formatShape(node.shape)} has no value`);
    return t;
  }

  private upload(node: InputNode | ParamNode, value: TensorData, what: string): tf.Tensor {
    const t = toTensor(value, `${what} "${node.name}"`);
    try {
      checkLeaf(node, t, this.dynamicBatch, what);
    } catch (e) {
      t.dispose();
      throw e;
    }
    return t;
  }
}
