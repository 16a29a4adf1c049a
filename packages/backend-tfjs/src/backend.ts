/** The UniAS backend contract on tfjs: candidates by priority, resolved through a BackendRegistry. */
import { BackendRegistry, type Backend, type BackendCandidate, type Graph, type PrepareOptions } from '@unias/graph';
import { loadRuntime, RUNTIME_PRIORITY, type TfjsRuntime, type TfjsRuntimeName } from './runtimes.js';
import { TfjsSession } from './session.js';

export interface TfjsBackend extends Backend {
  readonly name: TfjsRuntimeName;
  /** The tfjs backend it runs on ("tensorflow", "wasm", "cpu"). */
  readonly tfBackend: string;
  /** Higher-priority runtimes that were tried first and why each was unavailable. */
  readonly skipped: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
  prepare(graph: Graph, options?: PrepareOptions): Promise<TfjsSession>;
}

function backendFor(runtime: TfjsRuntime, skipped: TfjsBackend['skipped']): TfjsBackend {
  return {
    name: runtime.name,
    tfBackend: runtime.tfBackend,
    skipped,
    prepare: (graph, options) => TfjsSession.create(runtime, graph, options),
  };
}

const ALL: readonly TfjsRuntimeName[] = ['tfjs-node-gpu', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'];

/**
 * One candidate per tfjs runtime (tfjs-node-gpu 40 > tfjs-node 30 > tfjs-wasm 20 > tfjs-cpu 10), for a
 * shared `BackendRegistry`. Failures are appended to `failures` when given (to report what was skipped).
 */
export function tfjsBackendCandidates(failures?: Array<{ name: string; reason: string }>): BackendCandidate[] {
  return ALL.map((name) => ({
    name,
    priority: RUNTIME_PRIORITY[name],
    load: async (): Promise<Backend> => {
      try {
        return backendFor(await loadRuntime(name), failures ? [...failures] : []);
      } catch (e) {
        failures?.push({ name, reason: (e as Error).message.split('\n')[0] ?? String(e) });
        throw e;
      }
    },
  }));
}

export interface CreateTfjsBackendOptions {
  /**
   * Runtimes to try, in order (default: all by priority). A name may be a prefix, as in
   * `BackendRegistry.resolve`: ['tfjs-wasm', 'tfjs-cpu'] skips the native ones.
   */
  readonly prefer?: readonly string[];
}

function isTfjsBackend(b: Backend): b is TfjsBackend {
  return 'tfBackend' in b && 'skipped' in b;
}

/**
 * The best tfjs runtime that loads here. Throws `BackendUnavailableError` listing every runtime
 * tried and why it failed when none does.
 */
export async function createTfjsBackend(options: CreateTfjsBackendOptions = {}): Promise<TfjsBackend> {
  const failures: Array<{ name: string; reason: string }> = [];
  const registry = new BackendRegistry();
  for (const c of tfjsBackendCandidates(failures)) registry.register(c);
  const backend = await registry.resolve(options.prefer);
  if (!isTfjsBackend(backend)) throw new Error(`internal: ${backend.name} is not a tfjs backend`);
  return backend;
}
