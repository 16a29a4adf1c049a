/**
 * The ONNX Runtime backend: each prepared graph becomes one long-lived InferenceSession. Carried
 * state (a training step's parameters and moments) stays as ort.Tensors between runs: the outputs
 * of one run are fed straight back as inputs of the next, never converted to JS arrays.
 */
import {
  createGraph,
  formatShape,
  type Backend,
  type BackendCandidate,
  type Graph,
  type PrepareOptions,
  type Session,
  type TensorData,
} from '@unias/graph';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { fromOrtTensor, toOrtTensor, type OrtModule } from './ort-tensor.js';
import { encodeModel, lowerGraph, type IoSpec, type OnnxExportOptions } from './to-onnx.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface OnnxBackendOptions {
  /** ORT execution providers in order of preference (default ['cpu']). */
  readonly executionProviders?: readonly string[];
  /** Threads inside one op (default 2). */
  readonly intraOpNumThreads?: number;
  /** Threads across ops (default 1: sequential execution). */
  readonly interOpNumThreads?: number;
  /** ORT graph optimisation (default 'all'). */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** ORT log level, 0 (verbose) to 4 (fatal); default 3 (errors). */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** The backend's name (default "onnx-" + the first provider). */
  readonly name?: string;
}

export interface OnnxPrepareOptions extends PrepareOptions {
  /** Written to the model's metadata (visible when the session's model is saved). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Where ORT writes its optimised model (for inspecting fusions); off by default. */
  readonly optimizedModelFilePath?: string;
}

export interface OnnxBackend extends Backend {
  prepare(graph: Graph, options?: OnnxPrepareOptions): Promise<Session>;
  /** The session options every prepared graph gets. */
  readonly sessionOptions: Readonly<InferenceSession.SessionOptions>;
}

export async function loadOnnxRuntime(): Promise<OrtModule> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    throw new Error(`onnxruntime-node is not installed or failed to load: ${(e as Error).message}`);
  }
}

export async function createOnnxBackend(options: OnnxBackendOptions = {}): Promise<OnnxBackend> {
  const ort = await loadOnnxRuntime();
  const providers = options.executionProviders ?? ['cpu'];
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: [...providers],
    intraOpNumThreads: options.intraOpNumThreads ?? 2,
    interOpNumThreads: options.interOpNumThreads ?? 1,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: 'sequential',
    logSeverityLevel: options.logSeverityLevel ?? 3,
  };
  const name = options.name ?? `onnx-${providers[0] ?? 'cpu'}`;
  return {
    name,
    sessionOptions,
    prepare: (graph, prepareOptions = {}) => prepareSession(ort, name, sessionOptions, graph, prepareOptions),
  };
}

function checkCarry(carry: Readonly<Record<string, string>>, inputs: readonly IoSpec[], outputs: readonly IoSpec[]): void {
  const seen = new Set<string>();
  for (const [out, inp] of Object.entries(carry)) {
    const o = outputs.find((s) => s.name === out);
    const i = inputs.find((s) => s.name === inp);
    if (!o) throw new Error(`carry: "${out}" is not an output of the graph (outputs: ${outputs.map((s) => s.name).join(', ')})`);
    if (!i) throw new Error(`carry: "${inp}" is not an input or unbound param of the graph (inputs: ${inputs.map((s) => s.name).join(', ')})`);
    if (seen.has(inp)) throw new Error(`carry: input "${inp}" is carried from two outputs`);
    seen.add(inp);
    if (o.dtype !== i.dtype || formatShape(o.shape) !== formatShape(i.shape)) {
      throw new Error(`carry: output "${out}" (${o.dtype} ${formatShape(o.shape)}) cannot feed input "${inp}" (${i.dtype} ${formatShape(i.shape)})`);
    }
  }
}

function checkValue(spec: IoSpec, t: TensorData, what: string): void {
  const fits =
    t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i] || (i === spec.batchAxis && Number.isInteger(d) && d >= 0));
  if (t.dtype !== spec.dtype || !fits) {
    const want = spec.shape.map((d, i) => (i === spec.batchAxis ? 'N' : String(d))).join(',');
    throw new Error(`${what} "${spec.name}": got ${t.dtype} ${formatShape(t.shape)}, expected ${spec.dtype} [${want}]`);
  }
}

async function prepareSession(
  ort: OrtModule,
  backend: string,
  sessionOptions: InferenceSession.SessionOptions,
  graph: Graph,
  options: OnnxPrepareOptions,
): Promise<Session> {
  const carry = options.carry ?? {};
  const wanted = options.outputs ? [...new Set([...options.outputs, ...Object.keys(carry)])] : undefined;
  const exportOptions: OnnxExportOptions = {
    ...(options.params ? { params: options.params } : {}),
    ...(wanted ? { outputs: wanted } : {}),
    dynamicBatch: options.dynamicBatch ?? false,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  };
  const lowered = lowerGraph(graph, exportOptions);
  checkCarry(carry, lowered.inputs, lowered.outputs);
  const bytes = encodeModel(lowered.model);
  const session = await ort.InferenceSession.create(bytes, {
    ...sessionOptions,
    ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
  });

  const carriedInputs = new Set(Object.values(carry));
  const carriedOutputs = new Map(Object.entries(carry));
  const feedSpecs = lowered.inputs.filter((s) => !carriedInputs.has(s.name));
  const stateSpecs = new Map(lowered.inputs.filter((s) => carriedInputs.has(s.name)).map((s) => [s.name, s]));
  const returned = lowered.outputs.filter((s) => !carriedOutputs.has(s.name));
  const state = new Map<string, OrtTensor>();
  let disposed = false;
  // Runs are serialised: carried state must move from one run to the next in order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const alive = (what: string) => {
    if (disposed) throw new Error(`${backend} session: ${what} after dispose()`);
  };

  return {
    backend,
    inputNames: feedSpecs.map((s) => s.name),
    outputNames: returned.map((s) => s.name),

    run: (feeds) =>
      serial(async () => {
        alive('run');
        const ortFeeds: Record<string, OrtTensor> = {};
        for (const spec of feedSpecs) {
          const t = feeds[spec.name];
          if (!t) throw new Error(`${backend} session: missing feed "${spec.name}" (expects ${feedSpecs.map((s) => s.name).join(', ')})`);
          checkValue(spec, t, 'feed');
          ortFeeds[spec.name] = toOrtTensor(ort, t, `feed "${spec.name}"`);
        }
        for (const key of Object.keys(feeds)) {
          if (!ortFeeds[key]) {
            const why = stateSpecs.has(key) ? 'is carried state (use setState)' : 'is not an input of this session';
            throw new Error(`${backend} session: feed "${key}" ${why}`);
          }
        }
        for (const name of stateSpecs.keys()) {
          const t = state.get(name);
          if (!t) throw new Error(`${backend} session: carried input "${name}" has no value; call setState first`);
          ortFeeds[name] = t;
        }
        const results = await session.run(ortFeeds);
        const out: Record<string, TensorData> = {};
        for (const spec of lowered.outputs) {
          const value = results[spec.name];
          if (!value || !(value instanceof ort.Tensor)) throw new Error(`${backend} session: ONNX Runtime returned no tensor for "${spec.name}"`);
          const carriedTo = carriedOutputs.get(spec.name);
          if (carriedTo !== undefined) state.set(carriedTo, value);
          else out[spec.name] = fromOrtTensor(value, `output "${spec.name}"`);
        }
        return out;
      }),

    setState: (values) =>
      serial(async () => {
        alive('setState');
        for (const [name, t] of Object.entries(values)) {
          const spec = stateSpecs.get(name);
          if (!spec) throw new Error(`${backend} session: "${name}" is not a carried input (carried: ${[...stateSpecs.keys()].join(', ') || 'none'})`);
          checkValue(spec, t, 'state');
          // Copied, so later changes to the caller's array cannot reach the session.
          state.set(name, toOrtTensor(ort, { dtype: t.dtype, shape: t.shape, data: t.data.slice() }, `state "${name}"`));
        }
      }),

    getState: () =>
      serial(async () => {
        alive('getState');
        const out: Record<string, TensorData> = {};
        for (const [name, t] of state) {
          const v = fromOrtTensor(t, `state "${name}"`);
          out[name] = { dtype: v.dtype, shape: v.shape, data: v.data.slice() };
        }
        return out;
      }),

    dispose: () =>
      serial(async () => {
        if (disposed) return;
        disposed = true;
        state.clear();
        await session.release();
      }),
  };
}

/** A tiny model (y = x + x) to find out whether an execution provider really loads. */
async function probeProvider(ort: OrtModule, provider: string): Promise<void> {
  const b = createGraph();
  const x = b.input('x', [1]);
  b.output('y', b.add(x, x));
  const bytes = encodeModel(lowerGraph(b.build()).model);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], logSeverityLevel: 3 });
  try {
    const r = await session.run({ x: new ort.Tensor('float32', new Float32Array([1.5]), [1]) });
    const y = r['y'];
    if (!(y instanceof ort.Tensor) || y.data[0] !== 3) throw new Error(`the ${provider} provider computed a wrong probe result`);
  } finally {
    await session.release();
  }
}

/** Why ORT's CUDA provider library cannot be there, or undefined when it may be. */
function missingCudaProvider(): string | undefined {
  let binDir: string;
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    binDir = join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined; // layout unknown: let ORT try
  }
  if (!existsSync(binDir)) return undefined;
  const file = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(binDir, file)) ? undefined : `no ${file} beside the ONNX Runtime binding`;
}

/**
 * Candidates for a BackendRegistry: `onnx-cuda` (when ONNX Runtime's CUDA provider loads; it
 * falls back to CPU for ops CUDA lacks) and `onnx-cpu`.
 */
export function onnxBackendCandidates(options: Omit<OnnxBackendOptions, 'executionProviders' | 'name'> = {}): BackendCandidate[] {
  return [
    {
      name: 'onnx-cuda',
      priority: 110,
      async load() {
        const ort = await loadOnnxRuntime();
        const listed = ort.listSupportedBackends().find((b) => b.name === 'cuda');
        if (!listed) throw new Error('this onnxruntime-node build has no CUDA provider');
        // Checked before asking ORT, which would log a load failure to stderr on every CPU machine.
        const missing = listed.bundled ? undefined : missingCudaProvider();
        if (missing) throw new Error(`the CUDA provider is not installed (${missing}); install onnxruntime-node with its CUDA download`);
        try {
          await probeProvider(ort, 'cuda');
        } catch (e) {
          throw new Error(`the CUDA provider failed to load: ${(e as Error).message}`);
        }
        return createOnnxBackend({ ...options, executionProviders: ['cuda', 'cpu'], name: 'onnx-cuda' });
      },
    },
    {
      name: 'onnx-cpu',
      priority: 100,
      load: () => createOnnxBackend({ ...options, executionProviders: ['cpu'], name: 'onnx-cpu' }),
    },
  ];
}
