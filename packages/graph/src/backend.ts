/**
 * The backend contract. A backend takes a graph and prepares a session that runs it; model code
 * never sees which one. Backends are found by name and priority at run time, lazily, falling back
 * with one error that lists what was tried and why each failed.
 */
import type { Graph } from './graph.js';
import type { TensorData } from './tensor-data.js';

export interface PrepareOptions {
  /**
   * Parameter values bound into the session (uploaded once: initializers in ONNX, resident
   * tensors in tfjs). Parameters not bound here are session inputs and must be fed by name.
   */
  readonly params?: ReadonlyMap<string, TensorData>;
  /** Outputs to compute (default: every graph output). */
  readonly outputs?: readonly string[];
  /** Allow any batch size in dim 0 of inputs and outputs (graphs must use reshape 0 / -1 for it). */
  readonly dynamicBatch?: boolean;
  /**
   * State carried between runs inside the backend, as output name -> input name (a training step's
   * new parameters and optimizer moments feed the next step without a trip through JS arrays).
   * Carried inputs are set with `setState`, not fed to `run`; carried outputs are not returned by `run`.
   */
  readonly carry?: Readonly<Record<string, string>>;
}

export interface Session {
  /** The concrete backend, e.g. "onnx-cpu" or "tfjs-wasm". */
  readonly backend: string;
  /** Names `run` expects in its feeds (graph inputs and unbound params, less carried inputs). */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, TensorData>>): Promise<Record<string, TensorData>>;
  /** Sets carried inputs (by input name). */
  setState(values: Readonly<Record<string, TensorData>>): Promise<void>;
  /** Reads carried values back (by input name), e.g. to write a checkpoint. */
  getState(): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

export interface Backend {
  readonly name: string;
  prepare(graph: Graph, options?: PrepareOptions): Promise<Session>;
}

export interface BackendCandidate {
  readonly name: string;
  /** Higher is tried first. */
  readonly priority: number;
  /** Loads the runtime and returns the backend, or throws saying why it is unavailable. */
  load(): Promise<Backend>;
}

export class BackendUnavailableError extends Error {
  constructor(readonly attempts: ReadonlyArray<{ name: string; reason: string }>) {
    super(
      attempts.length === 0 ? 'no backend is registered' : `no backend could be loaded; tried ${attempts.map((a) => `${a.name} (${a.reason})`).join(', ')}`,
    );
    this.name = 'BackendUnavailableError';
  }
}

/** Candidates by name and priority, each loaded at most once. */
export class BackendRegistry {
  private readonly candidates = new Map<string, BackendCandidate>();
  private readonly loaded = new Map<string, Promise<Backend>>();

  register(candidate: BackendCandidate): this {
    this.candidates.set(candidate.name, candidate);
    return this;
  }

  names(): string[] {
    return [...this.candidates.values()].sort((a, b) => b.priority - a.priority).map((c) => c.name);
  }

  /**
   * The first candidate that loads, in the order given (default: by priority). A name may be a
   * prefix ("tfjs" tries every "tfjs-*" candidate by priority).
   */
  async resolve(preferred?: readonly string[]): Promise<Backend> {
    const order = this.order(preferred);
    const attempts: Array<{ name: string; reason: string }> = [];
    if (preferred && order.length === 0) {
      throw new Error(`unknown backend ${preferred.join(', ')}; registered: ${this.names().join(', ') || 'none'}`);
    }
    for (const c of order) {
      let p = this.loaded.get(c.name);
      if (!p) {
        p = c.load();
        this.loaded.set(c.name, p);
      }
      try {
        return await p;
      } catch (e) {
        this.loaded.delete(c.name);
        attempts.push({ name: c.name, reason: firstLine((e as Error).message) });
      }
    }
    throw new BackendUnavailableError(attempts);
  }

  private order(preferred?: readonly string[]): BackendCandidate[] {
    const byPriority = [...this.candidates.values()].sort((a, b) => b.priority - a.priority);
    if (!preferred) return byPriority;
    const out: BackendCandidate[] = [];
    for (const name of preferred) {
      for (const c of byPriority) {
        if ((c.name === name || c.name.startsWith(`${name}-`)) && !out.includes(c)) out.push(c);
      }
    }
    return out;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
