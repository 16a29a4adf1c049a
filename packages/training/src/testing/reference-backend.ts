/**
 * A Backend over the float64 reference evaluator (tests only): the independent truth a training
 * step on ORT or tfjs is compared with. Carried state is kept in float64 between runs.
 */
import { prune, type Backend, type Graph, type PrepareOptions, type Session, type TensorData } from '@unias/graph';
import { evaluateReference, toRef, type RefTensor } from '@unias/graph/testing';

function toData(t: RefTensor): TensorData {
  return { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(t.data) };
}

export function createReferenceBackend(): Backend {
  return {
    name: 'reference-f64',
    async prepare(graph: Graph, options: PrepareOptions = {}): Promise<Session> {
      const carry = Object.entries(options.carry ?? {});
      const carriedInputs = new Set(carry.map(([, i]) => i));
      const returned = (options.outputs ?? [...graph.outputs.keys()]).filter((o) => !carry.some(([c]) => c === o));
      const g = prune(graph, [...returned, ...carry.map(([o]) => o)]);
      const params = new Map<string, RefTensor>();
      for (const [k, v] of options.params ?? []) params.set(k, toRef(v));
      const state = new Map<string, RefTensor>();
      const inputNames = [...g.inputs.keys(), ...[...g.params.keys()].filter((p) => !params.has(p))].filter((n) => !carriedInputs.has(n));
      return {
        backend: 'reference-f64',
        inputNames,
        outputNames: returned,
        async run(feeds) {
          const all: Record<string, RefTensor> = {};
          for (const [k, v] of Object.entries(feeds)) all[k] = toRef(v);
          for (const [k, v] of state) all[k] = v;
          const out = evaluateReference(g, all, { params, outputs: [...returned, ...carry.map(([o]) => o)] });
          for (const [o, i] of carry) state.set(i, out[o]!);
          return Object.fromEntries(returned.map((o) => [o, toData(out[o]!)]));
        },
        async setState(values) {
          for (const [k, v] of Object.entries(values)) {
            if (!carriedInputs.has(k)) throw new Error(`reference session: "${k}" is not carried`);
            state.set(k, toRef(v));
          }
        },
        async getState() {
          return Object.fromEntries([...state].map(([k, v]) => [k, toData(v)]));
        },
        async dispose() {
          state.clear();
        },
      };
    },
  };
}
