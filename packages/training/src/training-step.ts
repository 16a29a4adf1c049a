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
import {
  appendOptimizer,
  clipCoefficient,
  clipGradNorm,
  gradNorm,
  stateKinds,
  stateName,
  weightDecayOf,
  type OptimizerGraph,
  type OptimizerSpec,
  type UpdateTarget,
} from './optimizers.js';
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
  /**
   * How trained params and moments are carried: 'flat' (default) as one vector per weight-decay
   * group, 'per-param' as one tensor each. The state exchanged with getState/setState is per param
   * either way.
   */
  readonly layout?: 'flat' | 'per-param';
  /**
   * Most elements in one flat vector (default FLAT_HOLDER_LIMIT): a group above it is carried as
   * several vectors of consecutive params (a param above it gets its own).
   */
  readonly flatHolderLimit?: number;
}

/**
 * 2Mi elements (8 MiB). The Node binding copies every output into a fresh ArrayBuffer each step,
 * and glibc serves allocations at or above its mmap threshold (32 MiB at most) with new pages: on
 * the paper preset (54M params, 215 MB per vector) those copies faulted 158k pages per step, 1.6 s
 * of system time, and the step took 10.2 s; in vectors of at most 2Mi elements they reuse freed
 * heap memory (25k faults, 8.2 s; 4Mi: 8.8 s, 1Mi: 8.3 s, one tensor per param: 8.3 s).
 */
export const FLAT_HOLDER_LIMIT = 2 * 1024 * 1024;

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

/** Where a trained param lives in the step graph's carried state. */
export interface ParamSlot {
  readonly param: ParamNode;
  /** The state tensor holding it (its own name, or a flat group `flat.<k>`). */
  readonly holder: string;
  /** Offset (in elements) within the holder; 0 and the whole holder when it holds one param. */
  readonly offset: number;
  readonly size: number;
}

/** A carried tensor the optimizer updates: one param, or several laid end to end. */
export interface Holder {
  readonly name: string;
  readonly shape: readonly number[];
  readonly members: readonly ParamSlot[];
}

export interface StepGraph {
  readonly graph: Graph;
  readonly trainable: readonly ParamNode[];
  readonly frozen: readonly ParamNode[];
  readonly holders: readonly Holder[];
  readonly optimizer: OptimizerGraph;
  readonly reportsNorm: boolean;
}

function isFrozen(option: TrainingStepOptions['frozen'], name: string): boolean {
  if (!option) return false;
  return typeof option === 'function' ? option(name) : option.includes(name);
}

/** The forward graph (with a 'loss' output) of either form of `model`. */
function forwardGraph(model: TrainingStepOptions['model']): Graph {
  if (typeof model !== 'function') {
    if (!model.outputs.has(LOSS_OUTPUT))
      throw new Error(`training step: the model graph has no "${LOSS_OUTPUT}" output (outputs: ${[...model.outputs.keys()].join(', ')})`);
    return model;
  }
  const b = createGraph({ training: true });
  const loss = model(b);
  if (!b.hasOutput(LOSS_OUTPUT)) b.output(LOSS_OUTPUT, loss);
  return b.build();
}

/**
 * Builds forward + loss + backward + clip + optimizer into one graph.
 *
 * Layout 'flat' (default) keeps the trained params as one flat vector per weight-decay group (with
 * flat moments): the forward reads each param as a slice of it, the gradients are concatenated
 * once, and clipping and the optimizer are a handful of ops on whole vectors instead of a dozen ops
 * per param (a model with 300 params loses ~5,800 nodes) and three carried tensors instead of three
 * per param. Layout 'per-param' keeps every param and moment a tensor of its own.
 */
export function buildStepGraph(options: Omit<TrainingStepOptions, 'backend' | 'params'>): StepGraph {
  const forward = forwardGraph(options.model);
  const lossNode = forward.outputs.get(LOSS_OUTPUT)!;
  if (lossNode.dtype !== 'float32' || sizeOf(lossNode.shape) !== 1) {
    throw new Error(`training step: the loss must be a float32 scalar, got ${lossNode.dtype} ${formatShape(lossNode.shape)}`);
  }
  for (const name of options.outputs ?? []) {
    if (!forward.outputs.has(name))
      throw new Error(`training step: the model has no output "${name}" to return (outputs: ${[...forward.outputs.keys()].join(', ')})`);
  }
  // Params the loss depends on are trained (unless frozen); the others the returned outputs need are bound.
  const lossParams = [...prune(forward, [LOSS_OUTPUT]).params.values()];
  const trainable = lossParams.filter((p) => p.trainable && !isFrozen(options.frozen, p.name));
  const frozen = [...prune(forward, [LOSS_OUTPUT, ...(options.outputs ?? [])]).params.values()].filter((p) => !trainable.includes(p));
  if (trainable.length === 0) throw new Error('training step: no trainable params (all are frozen or unused by the loss)');

  const b = createGraph({ training: true });
  const flatLayout = (options.layout ?? 'flat') === 'flat';
  const holders: Holder[] = [];
  const substitutes = new Map<number, Sym>();
  if (flatLayout) {
    // one flat vector per distinct weight decay, params in graph order within it
    const groups = new Map<number, ParamNode[]>();
    for (const p of trainable) {
      const wd = weightDecayOf(options.optimizer, p.name);
      groups.set(wd, [...(groups.get(wd) ?? []), p]);
    }
    const limit = options.flatHolderLimit ?? FLAT_HOLDER_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`training step: flatHolderLimit must be a positive integer, got ${limit}`);
    for (const params of groups.values()) {
      for (const chunk of chunkBySize(params, limit)) {
        const name = `trainable.flat.${holders.length}`;
        let offset = 0;
        const members = chunk.map((param) => {
          const slot: ParamSlot = { param, holder: name, offset, size: sizeOf(param.shape) };
          offset += slot.size;
          return slot;
        });
        const flat = b.input(name, [offset]);
        b.within('params', () => {
          for (const m of members) substitutes.set(m.param.id, b.reshape(b.slice(flat, 0, m.offset, m.offset + m.size), m.param.shape));
        });
        holders.push({ name, shape: [offset], members });
      }
    }
  } else {
    for (const p of trainable) holders.push({ name: p.name, shape: p.shape, members: [{ param: p, holder: p.name, offset: 0, size: sizeOf(p.shape) }] });
  }
  const imported = importGraph(b, forward, { substitute: (p) => substitutes.get(p.id) });
  const loss = imported.get(lossNode.id)!;
  const values = trainable.map((p) => substitutes.get(p.id) ?? imported.get(p.id)!);
  const gradList = grad(b, loss, values);
  const paramGrads = new Map(trainable.map((p, i) => [p.id, gradList[i]!] as const));
  let grads = holders.map((h) =>
    flatLayout
      ? b.within('grads', () =>
          b.concat(
            h.members.map((m) => b.reshape(paramGrads.get(m.param.id)!, [m.size])),
            0,
          ),
        )
      : paramGrads.get(h.members[0]!.param.id)!,
  );
  let normSym: Sym | null = null;
  let folded: ReturnType<typeof clipCoefficient> | undefined;
  if (options.clipNorm !== undefined && options.optimizer.kind === 'adamw') {
    // AdamW takes the coefficient into its scalars and reuses the norm's squares
    folded = clipCoefficient(b, grads, options.clipNorm);
    normSym = folded.totalNorm;
  } else if (options.clipNorm !== undefined) {
    const clipped = clipGradNorm(b, grads, options.clipNorm);
    grads = clipped.grads;
    normSym = clipped.totalNorm;
  } else if (options.reportGradNorm) {
    normSym = gradNorm(b, grads);
  }
  if (normSym) b.output(GRAD_NORM_OUTPUT, normSym);
  const targets: UpdateTarget[] = holders.map((h, i) => ({
    name: h.name,
    value: flatLayout ? b.getInput(h.name)! : imported.get(h.members[0]!.param.id)!,
    grad: grads[i]!,
    // a flat group shares one decay by construction
    weightDecay: weightDecayOf(options.optimizer, h.members[0]!.param.name),
    ...(folded ? { gradScale: folded.coef, gradSquared: folded.squares[i]! } : {}),
  }));
  const optimizer = appendOptimizer(b, options.optimizer, targets);
  // pruned: backward helpers that ended up unused (e.g. pieces merged into a concat) drop out
  return { graph: prune(b.build()), trainable, frozen, holders, optimizer, reportsNorm: normSym !== null };
}

function checkValue(name: string, expected: readonly number[], t: TensorData | undefined): TensorData {
  if (!t) throw new Error(`training step: no initial value for param "${name}" ${formatShape(expected)}`);
  if (t.dtype !== 'float32' || !shapesEqual(t.shape, expected)) {
    throw new Error(`training step: param "${name}" is ${t.dtype} ${formatShape(t.shape)}, the model expects float32 ${formatShape(expected)}`);
  }
  return t;
}

function scalar(v: number): TensorData {
  return { dtype: 'float32', shape: [], data: Float32Array.of(v) };
}

/** Consecutive runs of params with at most `limit` elements each (a larger param alone). */
function chunkBySize(params: readonly ParamNode[], limit: number): ParamNode[][] {
  const chunks: ParamNode[][] = [];
  let size = limit;
  for (const p of params) {
    const n = sizeOf(p.shape);
    if (size + n > limit) {
      chunks.push([]);
      size = 0;
    }
    chunks.at(-1)!.push(p);
    size += n;
  }
  return chunks;
}

/** Reads each member param out of a holder's flat data. */
function splitHolder(h: Holder, data: Float32Array, rename: (param: string) => string, out: Map<string, TensorData>): void {
  for (const m of h.members) out.set(rename(m.param.name), { dtype: 'float32', shape: [...m.param.shape], data: data.slice(m.offset, m.offset + m.size) });
}

/** Lays named per-param tensors end to end into one holder value. */
function joinHolder(h: Holder, value: (m: ParamSlot) => TensorData): TensorData {
  const data = new Float32Array(sizeOf(h.shape));
  for (const m of h.members) data.set(value(m).data, m.offset);
  return { dtype: 'float32', shape: [...h.shape], data };
}

/**
 * Prepares the step graph on the backend and returns a stepper. Params and optimizer state start
 * from `options.params` and zeros; `setState` restores a checkpoint. The state is always exchanged
 * per param (`params` by name, optimizer state as "<optimizer>.<state>.<param>"), whatever the layout.
 */
export async function createTrainingStep(options: TrainingStepOptions): Promise<TrainingStep> {
  const built = buildStepGraph(options);
  const { graph, trainable, frozen, optimizer, holders } = built;
  const kinds = stateKinds(options.optimizer);
  const bound = new Map<string, TensorData>();
  for (const p of frozen) bound.set(p.name, checkValue(p.name, p.shape, options.params.get(p.name)));

  const carry: Record<string, string> = {};
  for (const [target, out] of optimizer.next) carry[out] = target;
  for (const s of optimizer.state) carry[s.output] = s.input;
  const returned = [LOSS_OUTPUT, ...(built.reportsNorm ? [GRAD_NORM_OUTPUT] : []), ...(options.outputs ?? [])];
  const session = await options.backend.prepare(graph, { params: bound, carry, outputs: returned });

  /** Session state (holders and their moments) from per-param values. */
  const toSession = (params: ReadonlyMap<string, TensorData> | undefined, moments: ReadonlyMap<string, TensorData> | undefined, what: string) => {
    const values: Record<string, TensorData> = {};
    for (const h of holders) {
      values[h.name] = joinHolder(h, (m) => checkValue(m.param.name, m.param.shape, params?.get(m.param.name)));
      for (const kind of kinds) {
        values[stateName(options.optimizer, kind, h.name)] = joinHolder(h, (m) => {
          const name = stateName(options.optimizer, kind, m.param.name);
          if (!moments) return { dtype: 'float32', shape: m.param.shape, data: new Float32Array(m.size) };
          const t = moments.get(name);
          if (!t) throw new Error(`${what}: no optimizer state "${name}"`);
          return checkValue(name, m.param.shape, t);
        });
      }
    }
    return values;
  };
  await session.setState(toSession(options.params, undefined, 'training step'));

  const scalarNames = new Set(optimizer.scalars.keys());
  const sessionInputs = new Set(session.inputNames);
  const feedNames = session.inputNames.filter((n) => !graph.random.has(n) && !scalarNames.has(n));
  let rng: Rng = createRng(options.seed ?? 0);
  // refilled every step: the backends are done with a step's feeds when its run returns
  const randomBuffers = new Map<string, Float32Array>();
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
      for (const [name, t] of Object.entries(drawRandomFeeds(graph, rng, randomBuffers))) if (sessionInputs.has(name)) all[name] = t;
      for (const [name, fn] of optimizer.scalars) if (sessionInputs.has(name)) all[name] = scalar(fn(lr, steps + 1));
      const out = await session.run(all);
      steps++;
      const extra: Record<string, TensorData> = {};
      for (const n of options.outputs ?? []) extra[n] = out[n]!;
      return {
        loss: out[LOSS_OUTPUT]!.data[0]!,
        ...(built.reportsNorm ? { gradNorm: out[GRAD_NORM_OUTPUT]!.data[0]! } : {}),
        lr,
        step: steps,
        outputs: extra,
      };
    },

    async getState() {
      const state = await session.getState();
      const params = new Map<string, TensorData>();
      const moments = new Map<string, TensorData>();
      for (const h of holders) {
        splitHolder(h, state[h.name]!.data as Float32Array, (n) => n, params);
        for (const kind of kinds)
          splitHolder(h, state[stateName(options.optimizer, kind, h.name)]!.data as Float32Array, (n) => stateName(options.optimizer, kind, n), moments);
      }
      return { step: steps, params, optimizer: moments, rng: rng.state() };
    },

    async setState(state) {
      if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`training state: step must be a non-negative integer, got ${state.step}`);
      await session.setState(toSession(state.params, state.optimizer, 'training state'));
      steps = state.step;
      rng = createRng(state.rng);
    },

    dispose: () => session.dispose(),
  };
}
