/**
 * The ONNX Runtime backend: each prepared graph becomes one long-lived InferenceSession. Carried
 * state (a training step's parameters and moments) stays as ort.Tensors between runs: the outputs
 * of one run are fed straight back as inputs of the next, never converted to JS arrays; on the
 * WebGPU provider they stay in GPU buffers (device-state.ts).
 */
import { formatShape, type Backend, type BackendCandidate, type Graph, type PrepareOptions, type Session, type TensorData } from '@unias/graph';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { chooseOnnxDevice, type DeviceChoice, type DeviceProbeOptions, type DeviceRequest } from './devices.js';
import { fromOrtTensor, toOrtTensor, type OrtModule } from './ort-tensor.js';
import { profileFolder, type PlacementReport } from './placement.js';
import { createStateReadback, isOnDevice, keepsStateOnDevice, outputLocations } from './device-state.js';
import { encodeModel, lowerGraph, type IoSpec, type OnnxExportOptions } from '@unias/onnx-lowering';
import { BLOCKED_CONV_OPT_OUT, nchwcBlock } from './nchwc.js';

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
  /**
   * Called once per session after its first run with where onnxruntime placed each node (read
   * from a profile of that run; profiling stops after it).
   */
  readonly onPlacement?: (report: PlacementReport, session: { readonly backend: string; readonly outputs: readonly string[] }) => void;
  /**
   * On the WebGPU provider, keep carried state (parameters, optimizer moments) in GPU buffers
   * between runs instead of downloading and uploading it every run (default true; other
   * providers always hand it back in host memory).
   */
  readonly keepStateOnDevice?: boolean;
  /**
   * On the CPU provider alone, run the convolutions whose weights are fed at run time (a training
   * step's, and its gradients') with onnxruntime's blocked NCHWc kernels where they are faster
   * (default true where onnxruntime has them and a probe agrees with the plain Conv; the
   * environment variable UNIAS_ORT_BLOCKED_CONV=0 turns it off).
   */
  readonly blockedConv?: boolean;
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
  /** The NCHWc block its convolutions run blocked with (`blockedConv`), or undefined where they run plain. */
  blockedConvBlock(): Promise<number | undefined>;
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
  // com.microsoft.nchwc ops exist on the CPU provider only: a GPU session would run them there
  const blocked = providers.every((p) => p === 'cpu') && (options.blockedConv ?? process.env[BLOCKED_CONV_OPT_OUT] !== '0');
  const blockedConvBlock = () => (blocked ? nchwcBlock(ort) : Promise.resolve(undefined));
  return {
    name,
    sessionOptions,
    blockedConvBlock,
    prepare: async (graph, prepareOptions = {}) => {
      const setup = { name, sessionOptions, nchwcBlock: await blockedConvBlock(), onPlacement: options.onPlacement };
      return prepareSession(ort, setup, graph, prepareOptions, keepsStateOnDevice(providers, options.keepStateOnDevice));
    },
  };
}

export interface OnnxDeviceBackend extends OnnxBackend {
  /** The device chosen, why, and what was skipped. */
  readonly choice: DeviceChoice;
}

/**
 * A backend on a device (`auto` picks the best that works: see `chooseOnnxDevice`). Named
 * "onnx-" + the device. Throws `DeviceUnavailableError` when a named device cannot run here.
 */
export async function openOnnxDevice(
  request: DeviceRequest,
  options: Omit<OnnxBackendOptions, 'executionProviders'> & DeviceProbeOptions = {},
): Promise<OnnxDeviceBackend> {
  const { env, root, bindingDir, requireHardwareGpu, ...backendOptions } = options;
  const probe: DeviceProbeOptions = {
    ...(env ? { env } : {}),
    ...(root ? { root } : {}),
    ...(bindingDir !== undefined ? { bindingDir } : {}),
    ...(requireHardwareGpu !== undefined ? { requireHardwareGpu } : {}),
  };
  const choice = await chooseOnnxDevice(request, probe);
  const backend = await createOnnxBackend({ name: `onnx-${choice.device}`, ...backendOptions, executionProviders: choice.executionProviders });
  return { ...backend, choice };
}

/** Bytes of the host-resident tensors among these (device-resident ones are not read). */
function byteSize(tensors: readonly OrtTensor[]): number {
  let n = 0;
  for (const t of tensors) {
    if (isOnDevice(t)) continue;
    const data = (t as { data?: unknown }).data;
    if (ArrayBuffer.isView(data)) n += data.byteLength;
  }
  return n;
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
  const fits = t.shape.length === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i] || (i === spec.batchAxis && Number.isInteger(d) && d >= 0));
  if (t.dtype !== spec.dtype || !fits) {
    const want = spec.shape.map((d, i) => (i === spec.batchAxis ? 'N' : String(d))).join(',');
    throw new Error(`${what} "${spec.name}": got ${t.dtype} ${formatShape(t.shape)}, expected ${spec.dtype} [${want}]`);
  }
}

/** What every session of one backend shares. */
interface SessionSetup {
  readonly name: string;
  readonly sessionOptions: InferenceSession.SessionOptions;
  readonly nchwcBlock: number | undefined;
  readonly onPlacement: OnnxBackendOptions['onPlacement'];
}

async function prepareSession(ort: OrtModule, setup: SessionSetup, graph: Graph, options: OnnxPrepareOptions, stateOnDevice = false): Promise<Session> {
  const { name: backend, sessionOptions, onPlacement } = setup;
  const carry = options.carry ?? {};
  const wanted = options.outputs ? [...new Set([...options.outputs, ...Object.keys(carry)])] : undefined;
  const exportOptions: OnnxExportOptions = {
    ...(options.params ? { params: options.params } : {}),
    ...(wanted ? { outputs: wanted } : {}),
    dynamicBatch: options.dynamicBatch ?? false,
    ...(options.metadata ? { metadata: options.metadata } : {}),
    ...(setup.nchwcBlock !== undefined ? { nchwcBlock: setup.nchwcBlock } : {}),
  };
  const lowered = lowerGraph(graph, exportOptions);
  checkCarry(carry, lowered.inputs, lowered.outputs);
  const bytes = encodeModel(lowered.model);
  const carriedOutputs = new Map(Object.entries(carry));
  const onDevice = stateOnDevice && carriedOutputs.size > 0;
  let profile = onPlacement ? await profileFolder() : undefined;
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      ...sessionOptions,
      ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
      ...(profile ? { enableProfiling: true, profileFilePrefix: profile.prefix } : {}),
      ...(onDevice ? { preferredOutputLocation: outputLocations(lowered.outputs, new Set(carriedOutputs.keys())) } : {}),
    });
  } catch (e) {
    await profile?.remove();
    throw e;
  }
  /** Ends the placement profile after the first run (or at dispose), reports it, removes its file. */
  const endProfile = async (report: boolean, ioBytes = 0) => {
    const p = profile;
    if (!p) return;
    profile = undefined;
    try {
      session.endProfiling();
      if (report) onPlacement?.(await p.read(ioBytes), { backend, outputs: lowered.outputs.map((s) => s.name) });
    } finally {
      await p.remove();
    }
  };

  const carriedInputs = new Set(Object.values(carry));
  const feedSpecs = lowered.inputs.filter((s) => !carriedInputs.has(s.name));
  const stateSpecs = new Map(lowered.inputs.filter((s) => carriedInputs.has(s.name)).map((s) => [s.name, s]));
  const returned = lowered.outputs.filter((s) => !carriedOutputs.has(s.name));
  const state = new Map<string, OrtTensor>();
  const readback = onDevice ? createStateReadback(ort, sessionOptions, [...stateSpecs.values()]) : undefined;
  /** Replaces a carried value; a device buffer it replaces is freed (nothing else holds it). */
  const keep = (name: string, t: OrtTensor) => {
    const old = state.get(name);
    state.set(name, t);
    if (old && old !== t && isOnDevice(old)) old.dispose();
  };
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
        if (profile) {
          // Per run in the steady state: on the device, the state uploaded by this first run
          // (from setState) stays there and is not counted.
          const moved = onDevice ? feedSpecs.map((s) => ortFeeds[s.name]!) : Object.values(ortFeeds);
          await endProfile(true, byteSize(moved) + byteSize(Object.values(results)));
        }
        const out: Record<string, TensorData> = {};
        for (const spec of lowered.outputs) {
          const value = results[spec.name];
          if (!value || !(value instanceof ort.Tensor)) throw new Error(`${backend} session: ONNX Runtime returned no tensor for "${spec.name}"`);
          const carriedTo = carriedOutputs.get(spec.name);
          if (carriedTo !== undefined) keep(carriedTo, value);
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
          keep(name, toOrtTensor(ort, { dtype: t.dtype, shape: t.shape, data: t.data.slice() }, `state "${name}"`));
        }
      }),

    getState: () =>
      serial(async () => {
        alive('getState');
        const out: Record<string, TensorData> = {};
        const host = readback ? await readback.download(state) : state;
        for (const [name, t] of host) {
          const v = fromOrtTensor(t, `state "${name}"`);
          out[name] = { dtype: v.dtype, shape: v.shape, data: v.data.slice() };
        }
        return out;
      }),

    dispose: () =>
      serial(async () => {
        if (disposed) return;
        disposed = true;
        for (const t of state.values()) if (isOnDevice(t)) t.dispose();
        state.clear();
        await endProfile(false).catch(() => undefined);
        await readback?.release();
        await session.release();
      }),
  };
}

/**
 * Candidates for a BackendRegistry: `onnx-cuda` (110, when onnxruntime's CUDA provider loads),
 * `onnx-webgpu` (105, only over a hardware GPU's Vulkan driver) and `onnx-cpu` (100). Unplaced
 * ops fall back to the CPU provider.
 */
export function onnxBackendCandidates(options: Omit<OnnxBackendOptions, 'executionProviders' | 'name'> & DeviceProbeOptions = {}): BackendCandidate[] {
  const candidate = (device: 'cuda' | 'webgpu' | 'cpu', priority: number): BackendCandidate => ({
    name: `onnx-${device}`,
    priority,
    // As in `auto`, WebGPU over a software Vulkan driver is not a candidate.
    load: () => openOnnxDevice(device, { ...options, requireHardwareGpu: true }),
  });
  return [candidate('cuda', 110), candidate('webgpu', 105), candidate('cpu', 100)];
}
