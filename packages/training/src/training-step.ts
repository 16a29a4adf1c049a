/**
 * A training step as ONE graph: forward, loss, backward (`grad`), gradient clipping and the
 * optimizer update, prepared once on a backend. Trainable params and optimizer state are graph
 * inputs whose updated values are outputs, carried by the backend from one step to the next
 * (`PrepareOptions.carry`: on ONNX Runtime they stay ort.Tensors, on tfjs tf.Tensors); frozen params
 * are bound once as constants. Random inputs (dropout masks, noise) are drawn in JS from a seeded
 * Rng every step, so every backend sees the same numbers and a run can be replayed.
 */
import {
  createGraph,
  createRng,
  drawRandomFeeds,
  formatShape,
  grad,
  prune,
  shapesEqual,
  sizeOf,
  type Backend,
  type Graph,
  type GraphBuilder,
  type ParamNode,
  type Rng,
  type RngState,
  type Session,
  type Sym,
  type TensorData,
} from '@unias/graph';
import { importGraph } from './import-graph.js';
import { appendOptimizer, clipGradNorm, gradNorm, type OptimizerGraph, type OptimizerSpec } from './optimizers.js';
import type { Schedule } from './schedules.js';

export const LOSS_OUTPUT = 'loss';
export const GRAD_NORM_OUTPUT = 'grad_norm';

export interface TrainingStepOptions {
  /**
   * The model and its loss: a function that builds them into a training builder (dropout on) and
   * returns the scalar loss, or a finished graph with a 'loss' output.
   */
  readonly model: ((b: GraphBuilder) => Sym) | Graph;
  /** Initial values of the params the loss uses (trainable and frozen), by name. */
  readonly params: ReadonlyMap<string, TensorData>;
  /** Params kept fixed besides those built with `trainable: false` (names, or a predicate). */
  readonly frozen?: readonly string[] | ((name: string) => boolean);
  readonly optimizer: OptimizerSpec;
  /** The lr of each step (t = 0 first); default: the optimizer's constant lr. */
  readonly schedule?: Schedule;
  /** Clip gradients to this global L2 norm (torch.nn.utils.clip_grad_norm_). */
  readonly clipNorm?: number;
  /** Also output the global gradient norm when not clipping (it always is when clipping). */
  readonly reportGradNorm?: boolean;
  readonly backend: Backend;
  /** Seed of the Rng that draws random inputs each step. Default 0. */
  readonly seed?: number;
  /** Other outputs of the model graph to return from every step (predictions, loss terms). */
  readonly outputs?: readonly string[];
}

export interface StepResult {
  readonly loss: number;
  /** Global gradient norm before clipping (when clipping or reportGradNorm). */
  readonly gradNorm?: number;
  /** The lr this step used. */
  readonly lr: number;
  /** How many steps have run, this one included. */
  readonly step: number;
  /** The requested extra outputs. */
  readonly outputs: Readonly<Record<string, TensorData>>;
}

/** Everything a checkpoint needs to continue a run exactly. */
export interface TrainingState {
  /** Steps taken so far. */
  readonly step: number;
  /** Trainable params by name. */
  readonly params: ReadonlyMap<string, TensorData>;
  /** Optimizer state by its input name (e.g. "adamw.exp_avg.<param>"). */
  readonly optimizer: ReadonlyMap<string, TensorData>;
  /** State of the Rng that draws random inputs. */
  readonly rng: RngState;
}

export interface TrainingStep {
  /** The step graph (forward, backward, update), e.g. to export or inspect. */
  readonly graph: Graph;
  readonly session: Session;
  /** Names of the trained params, in gradient order. */
  readonly trainable: readonly string[];
  /** Names of the frozen params (bound as constants). */
  readonly frozen: readonly string[];
  /** Data inputs each `step` needs (random inputs and optimizer scalars are supplied here). */
  readonly feedNames: readonly string[];
  step(feeds: Readonly<Record<string, TensorData>>, options?: { readonly lr?: number }): Promise<StepResult>;
  getState(): Promise<TrainingState>;
  setState(state: TrainingState): Promise<void>;
  dispose(): Promise<void>;
}

interface StepGraph {
  readonly graph: Graph;
  readonly trainable: readonly ParamNode[];
  readonly frozen: readonly ParamNode[];
  readonly optimizer: OptimizerGraph;
  readonly reportsNorm: boolean;
}

function isFrozen(option: TrainingStepOptions['frozen'], name: string): boolean {
  if (!option) return false;
  return typeof option === 'function' ? option(name) : option.includes(name);
}

/** Builds forward + loss + backward + clip + optimizer into one graph. */
export function buildStepGraph(options: Omit<TrainingStepOptions, 'backend' | 'params'>): StepGraph {
  const b = createGraph({ training: true });
  let loss: Sym;
  if (typeof options.model === 'function') {
    loss = options.model(b);
    if (!b.hasOutput(LOSS_OUTPUT)) b.output(LOSS_OUTPUT, loss);
  } else {
    const source = options.model.outputs.get(LOSS_OUTPUT);
    if (!source) throw new Error(`training step: the model graph has no "${LOSS_OUTPUT}" output (outputs: ${[...options.model.outputs.keys()].join(', ')})`);
    loss = importGraph(b, options.model).get(source.id)!;
  }
  if (loss.dtype !== 'float32' || sizeOf(loss.shape) !== 1) {
    throw new Error(`training step: the loss must be a float32 scalar, got ${loss.dtype} ${formatShape(loss.shape)}`);
  }
  const forward = b.build();
  for (const name of options.outputs ?? []) {
    if (!forward.outputs.has(name)) throw new Error(`training step: the model has no output "${name}" to return (outputs: ${[...forward.outputs.keys()].join(', ')})`);
  }
  // Params the loss depends on are trained (unless frozen); the others the returned outputs need are bound.
  const lossParams = [...prune(forward, [LOSS_OUTPUT]).params.values()];
  const trainable = lossParams.filter((p) => p.trainable && !isFrozen(options.frozen, p.name));
  const frozen = [...prune(forward, [LOSS_OUTPUT, ...(options.outputs ?? [])]).params.values()].filter((p) => !trainable.includes(p));
  if (trainable.length === 0) throw new Error('training step: no trainable params (all are frozen or unused by the loss)');

  let grads = grad(b, loss, trainable);
  let normSym: Sym | null = null;
  if (options.clipNorm !== undefined) {
    const clipped = clipGradNorm(b, grads, options.clipNorm);
    grads = clipped.grads;
    normSym = clipped.totalNorm;
  } else if (options.reportGradNorm) {
    normSym = gradNorm(b, grads);
  }
  if (normSym) b.output(GRAD_NORM_OUTPUT, normSym);
  const optimizer = appendOptimizer(b, options.optimizer, trainable, grads);
  return { graph: b.build(), trainable, frozen, optimizer, reportsNorm: normSym !== null };
}

function checkValue(name: string, expected: readonly number[], t: TensorData | undefined): TensorData {
  if (!t) throw new Error(`training step: no initial value for param "${name}" ${formatShape(expected)}`);
  if (t.dtype !== 'float32' || !shapesEqual(t.shape, expected)) {
    throw new Error(`training step: param "${name}" is ${t.dtype} ${formatShape(t.shape)}, the model expects float32 ${formatShape(expected)}`);
  }
  return t;
}

function zeros(shape: readonly number[]): TensorData {
  return { dtype: 'float32', shape: [...shape], data: new Float32Array(sizeOf(shape)) };
}

function scalar(v: number): TensorData {
  return { dtype: 'float32', shape: [], data: Float32Array.of(v) };
}

/**
 * Prepares the step graph on the backend and returns a stepper. Params and optimizer state start
 * from `options.params` and zeros; `setState` restores a checkpoint.
 */
export async function createTrainingStep(options: TrainingStepOptions): Promise<TrainingStep> {
  const built = buildStepGraph(options);
  const { graph, trainable, frozen, optimizer } = built;
  const bound = new Map<string, TensorData>();
  for (const p of frozen) bound.set(p.name, checkValue(p.name, p.shape, options.params.get(p.name)));
  const initial: Record<string, TensorData> = {};
  for (const p of trainable) initial[p.name] = checkValue(p.name, p.shape, options.params.get(p.name));
  for (const s of optimizer.state) initial[s.input] = zeros(s.shape);

  const carry: Record<string, string> = {};
  for (const [param, out] of optimizer.nextParams) carry[out] = param;
  for (const s of optimizer.state) carry[s.output] = s.input;
  const returned = [LOSS_OUTPUT, ...(built.reportsNorm ? [GRAD_NORM_OUTPUT] : []), ...(options.outputs ?? [])];
  const session = await options.backend.prepare(graph, { params: bound, carry, outputs: returned });
  await session.setState(initial);

  const scalarNames = new Set(optimizer.scalars.keys());
  const sessionInputs = new Set(session.inputNames);
  const feedNames = session.inputNames.filter((n) => !graph.random.has(n) && !scalarNames.has(n));
  let rng: Rng = createRng(options.seed ?? 0);
  let steps = 0;
  const schedule = options.schedule ?? (() => options.optimizer.lr);

  return {
    graph,
    session,
    trainable: trainable.map((p) => p.name),
    frozen: frozen.map((p) => p.name),
    feedNames,

    async step(feeds, stepOptions = {}) {
      const missing = feedNames.filter((n) => !feeds[n]);
      if (missing.length > 0) throw new Error(`training step: missing feeds ${missing.join(', ')} (expects ${feedNames.join(', ')})`);
      const lr = stepOptions.lr ?? schedule(steps);
      if (!Number.isFinite(lr) || lr < 0) throw new Error(`training step: lr must be a finite number >= 0, got ${lr}`);
      const all: Record<string, TensorData> = {};
      for (const n of feedNames) all[n] = feeds[n]!;
      // Every random input is drawn, in graph order, whether or not this session needs it, so the
      // Rng advances the same way on every backend.
      for (const [name, t] of Object.entries(drawRandomFeeds(graph, rng))) if (sessionInputs.has(name)) all[name] = t;
      for (const [name, fn] of optimizer.scalars) if (sessionInputs.has(name)) all[name] = scalar(fn(lr, steps + 1));
      const out = await session.run(all);
      steps++;
      const lossValue = out[LOSS_OUTPUT]!.data[0]!;
      const extra: Record<string, TensorData> = {};
      for (const n of options.outputs ?? []) extra[n] = out[n]!;
      return {
        loss: lossValue,
        ...(built.reportsNorm ? { gradNorm: out[GRAD_NORM_OUTPUT]!.data[0]! } : {}),
        lr,
        step: steps,
        outputs: extra,
      };
    },

    async getState() {
      const state = await session.getState();
      const params = new Map<string, TensorData>();
      const opt = new Map<string, TensorData>();
      for (const p of trainable) params.set(p.name, state[p.name]!);
      for (const s of optimizer.state) opt.set(s.input, state[s.input]!);
      return { step: steps, params, optimizer: opt, rng: rng.state() };
    },

    async setState(state) {
      if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`training state: step must be a non-negative integer, got ${state.step}`);
      const values: Record<string, TensorData> = {};
      for (const p of trainable) values[p.name] = checkValue(p.name, p.shape, state.params.get(p.name));
      for (const s of optimizer.state) {
        const t = state.optimizer.get(s.input);
        if (!t) throw new Error(`training state: no optimizer state "${s.input}"`);
        values[s.input] = checkValue(s.input, s.shape, t);
      }
      await session.setState(values);
      steps = state.step;
      rng = createRng(state.rng);
    },

    dispose: () => session.dispose(),
  };
}
