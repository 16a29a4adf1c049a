import type { AnyOpNode, ConstNode, Graph, InputNode, Node, OpNode, ParamNode, RandomSpec, Sym } from './graph.js';
import type { Initializer } from './init.js';
import type { AvgPool2dAttrs, Conv2dAttrs, ConvTranspose2dAttrs, OpAttrMap, OpName, Pads2d, Pair, PadMode, Pool2dAttrs } from './ops/attrs.js';
import { OP_SPECS } from './ops/infer.js';
import { normAxes, normAxis, resolveReshape, samePadding } from './shape.js';
import { allocate, formatShape, shapesEqual, sizeOf, type AnyTypedArray, type DType, type Shape } from './tensor-data.js';

export type SymOrNumber = Sym | number;

/** 'same' is TensorFlow's rule for this input size; a number pads all four sides. */
export type Padding = 'valid' | 'same' | number | Pads2d;

export interface ConvOptions {
  stride?: number | Pair;
  padding?: Padding;
  dilation?: number | Pair;
  groups?: number;
}

export interface ParamOptions {
  /** Frozen parameters are excluded from gradients (a backbone, batch-norm statistics). */
  trainable?: boolean;
}

function pair(v: number | Pair | undefined, fallback: number): Pair {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * Builds a graph while model code runs like an ordinary forward function:
 *
 *   const x = b.input('image', [1, 3, 224, 224]);
 *   const y = b.within('stem', () => b.relu(b.conv2d(x, b.param('weight', [32, 3, 3, 3], init), null, { stride: 2 })));
 *
 * Every op infers its output shape when it is made, so a misshaped model fails at the line that
 * builds it, with the scope in the message.
 */
export interface BuilderOptions {
  /**
   * Training graphs get dropout masks and noise as random inputs; eval graphs (the default) make
   * `dropout` the identity.
   */
  training?: boolean;
}

export class GraphBuilder {
  readonly training: boolean;
  private readonly nodes: Node[] = [];
  private readonly randomMap = new Map<string, RandomSpec>();
  private readonly inputMap = new Map<string, InputNode>();
  private readonly paramMap = new Map<string, ParamNode>();
  private readonly outputMap = new Map<string, Node>();
  private readonly scopes: string[] = [];
  private readonly scalarCache = new Map<number, ConstNode>();
  private nextId = 0;

  constructor(options: BuilderOptions = {}) {
    this.training = options.training ?? false;
  }

  /** The current name scope, dot-joined (PyTorch state_dict style). */
  get scopeName(): string {
    return this.scopes.join('.');
  }

  /** Runs `fn` with `name` pushed on the scope: params made inside are named `scope.name`. */
  within<T>(name: string | number, fn: () => T): T {
    this.scopes.push(String(name));
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  qualified(name: string): string {
    return this.scopes.length > 0 ? `${this.scopeName}.${name}` : name;
  }

  input(name: string, shape: Shape, dtype: DType = 'float32'): InputNode {
    if (this.inputMap.has(name) || this.paramMap.has(name)) throw new Error(`input "${name}" is already defined`);
    checkShape(shape, `input "${name}"`);
    const node: InputNode = { kind: 'input', id: this.nextId++, name, shape: [...shape], dtype };
    this.nodes.push(node);
    this.inputMap.set(name, node);
    return node;
  }

  /**
   * A parameter named within the current scope. Asking again for the same name returns the same
   * node (weight sharing); a different shape for it is an error.
   */
  param(name: string, shape: Shape, init: Initializer, options: ParamOptions = {}): ParamNode {
    const full = this.qualified(name);
    const existing = this.paramMap.get(full);
    if (existing) {
      if (!shapesEqual(existing.shape, shape)) {
        throw new Error(`param "${full}" requested as ${formatShape(shape)} but exists as ${formatShape(existing.shape)}`);
      }
      return existing;
    }
    if (this.inputMap.has(full)) throw new Error(`param "${full}" clashes with an input of that name`);
    checkShape(shape, `param "${full}"`);
    const node: ParamNode = {
      kind: 'param',
      id: this.nextId++,
      name: full,
      shape: [...shape],
      dtype: 'float32',
      trainable: options.trainable ?? true,
      init,
    };
    this.nodes.push(node);
    this.paramMap.set(full, node);
    return node;
  }

  constant(data: ArrayLike<number>, shape: Shape, dtype: DType = 'float32'): ConstNode {
    checkShape(shape, 'constant');
    if (data.length !== sizeOf(shape)) {
      throw new Error(`constant: ${data.length} values do not fill ${formatShape(shape)}`);
    }
    const arr: AnyTypedArray = allocate(dtype, data.length);
    arr.set(data);
    const node: ConstNode = { kind: 'const', id: this.nextId++, shape: [...shape], dtype, data: arr };
    this.nodes.push(node);
    return node;
  }

  /** A float32 scalar (shape []), shared between uses. */
  scalar(value: number): ConstNode {
    const key = Object.is(value, -0) ? 0 : value;
    let node = this.scalarCache.get(key);
    if (!node) {
      node = this.constant([value], []);
      this.scalarCache.set(key, node);
    }
    return node;
  }

  output(name: string, value: Sym): void {
    if (this.outputMap.has(name)) throw new Error(`output "${name}" is already defined`);
    this.outputMap.set(name, value);
  }

  hasOutput(name: string): boolean {
    return this.outputMap.has(name);
  }

  getParam(name: string): ParamNode | undefined {
    return this.paramMap.get(name);
  }

  getInput(name: string): InputNode | undefined {
    return this.inputMap.get(name);
  }

  /** An input filled with fresh random draws on every run (see RandomSpec). */
  randomInput(name: string, shape: Shape, spec: RandomSpec): InputNode {
    const node = this.input(name, shape);
    this.randomMap.set(name, spec);
    return node;
  }

  /**
   * Inverted dropout with probability p: in a training graph, x times a random mask input named
   * after the scope; in an eval graph, x itself.
   */
  dropout(x: Sym, p: number): Sym {
    if (!this.training || p <= 0) return x;
    if (p >= 1) throw new Error(`dropout: p must be < 1, got ${p}`);
    let name = this.qualified('dropout');
    for (let k = 1; this.inputMap.has(name); k++) name = this.qualified(`dropout${k}`);
    return this.mul(x, this.randomInput(name, x.shape, { kind: 'dropout', p }));
  }

  /** A snapshot of everything built so far. */
  build(): Graph {
    return {
      nodes: [...this.nodes],
      inputs: new Map(this.inputMap),
      params: new Map(this.paramMap),
      outputs: new Map(this.outputMap),
      random: new Map(this.randomMap),
    };
  }

  /** The one place op nodes are made: validates arity, infers shape and dtype. */
  op<K extends OpName>(op: K, inputs: readonly Sym[], attrs: OpAttrMap[K]): OpNode<K> {
    const spec = OP_SPECS[op];
    const where = this.scopeName ? ` (in ${this.scopeName})` : '';
    if (inputs.length < spec.arity[0] || inputs.length > spec.arity[1]) {
      throw new Error(`${op}${where}: expects ${spec.arity[0]}..${spec.arity[1]} inputs, got ${inputs.length}`);
    }
    let inferred: { shape: number[]; dtype: DType };
    try {
      inferred = spec.infer(inputs, attrs);
    } catch (e) {
      throw new Error(`${(e as Error).message}${where}`);
    }
    const node: OpNode<K> = {
      kind: 'op',
      id: this.nextId++,
      op,
      inputs: [...inputs],
      attrs,
      shape: inferred.shape,
      dtype: inferred.dtype,
      scope: this.scopeName,
    };
    this.nodes.push(node as AnyOpNode);
    return node;
  }

  private sym(v: SymOrNumber): Sym {
    return typeof v === 'number' ? this.scalar(v) : v;
  }

  // ---- elementwise ---------------------------------------------------------------------------
  neg(x: Sym): Sym {
    return this.op('neg', [x], {});
  }
  abs(x: Sym): Sym {
    return this.op('abs', [x], {});
  }
  sign(x: Sym): Sym {
    return this.op('sign', [x], {});
  }
  exp(x: Sym): Sym {
    return this.op('exp', [x], {});
  }
  log(x: Sym): Sym {
    return this.op('log', [x], {});
  }
  sqrt(x: Sym): Sym {
    return this.op('sqrt', [x], {});
  }
  relu(x: Sym): Sym {
    return this.op('relu', [x], {});
  }
  sigmoid(x: Sym): Sym {
    return this.op('sigmoid', [x], {});
  }
  tanh(x: Sym): Sym {
    return this.op('tanh', [x], {});
  }
  erf(x: Sym): Sym {
    return this.op('erf', [x], {});
  }
  gelu(x: Sym): Sym {
    return this.op('gelu', [x], {});
  }
  silu(x: Sym): Sym {
    return this.op('silu', [x], {});
  }
  clip(x: Sym, min: number, max: number): Sym {
    return this.op('clip', [x], { min, max });
  }
  cast(x: Sym, to: DType): Sym {
    return x.dtype === to ? x : this.op('cast', [x], { to });
  }

  add(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('add', [this.sym(a), this.sym(b)], {});
  }
  sub(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('sub', [this.sym(a), this.sym(b)], {});
  }
  mul(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('mul', [this.sym(a), this.sym(b)], {});
  }
  div(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('div', [this.sym(a), this.sym(b)], {});
  }
  pow(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('pow', [this.sym(a), this.sym(b)], {});
  }
  maximum(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('maximum', [this.sym(a), this.sym(b)], {});
  }
  minimum(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('minimum', [this.sym(a), this.sym(b)], {});
  }
  greater(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('greater', [this.sym(a), this.sym(b)], {});
  }
  less(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('less', [this.sym(a), this.sym(b)], {});
  }
  equal(a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('equal', [this.sym(a), this.sym(b)], {});
  }
  where(cond: Sym, a: SymOrNumber, b: SymOrNumber): Sym {
    return this.op('where', [cond, this.sym(a), this.sym(b)], {});
  }
  square(x: Sym): Sym {
    return this.mul(x, x);
  }

  // ---- reductions ----------------------------------------------------------------------------
  sum(x: Sym, axes: number | readonly number[], keepDims = false): Sym {
    return this.op('reduceSum', [x], { axes: normAxes(toList(axes), x.shape.length, 'sum axes'), keepDims });
  }
  mean(x: Sym, axes: number | readonly number[], keepDims = false): Sym {
    return this.op('reduceMean', [x], { axes: normAxes(toList(axes), x.shape.length, 'mean axes'), keepDims });
  }
  max(x: Sym, axes: number | readonly number[], keepDims = false): Sym {
    return this.op('reduceMax', [x], { axes: normAxes(toList(axes), x.shape.length, 'max axes'), keepDims });
  }
  /** Sum over every axis to a scalar. */
  sumAll(x: Sym): Sym {
    return x.shape.length === 0
      ? x
      : this.sum(
          x,
          x.shape.map((_, i) => i),
        );
  }
  meanAll(x: Sym): Sym {
    return x.shape.length === 0
      ? x
      : this.mean(
          x,
          x.shape.map((_, i) => i),
        );
  }
  /** [N,C,H,W] -> [N,C,1,1] */
  globalAvgPool(x: Sym): Sym {
    return this.mean(x, [2, 3], true);
  }
  globalMaxPool(x: Sym): Sym {
    return this.max(x, [2, 3], true);
  }

  // ---- layout --------------------------------------------------------------------------------
  reshape(x: Sym, shape: readonly number[]): Sym {
    // to its own shape: no node (ORT spends ~9 us on each, and a training step made hundreds)
    if (shapesEqual(resolveReshape(x.shape, shape), x.shape)) return x;
    return this.op('reshape', [x], { shape: [...shape] });
  }
  transpose(x: Sym, perm: readonly number[]): Sym {
    if (perm.every((p, i) => p === i)) return x;
    return this.op('transpose', [x], { perm: [...perm] });
  }
  concat(xs: readonly Sym[], axis: number): Sym {
    if (xs.length === 0) throw new Error('concat: no inputs');
    if (xs.length === 1) return xs[0]!;
    return this.op('concat', xs, { axis: normAxis(axis, xs[0]!.shape.length, 'concat axis') });
  }
  /** x[start:end:step] along one axis; negative start/end count from the end, ends are clamped. */
  slice(x: Sym, axis: number, start: number, end: number = Number.MAX_SAFE_INTEGER, step = 1): Sym {
    const ax = normAxis(axis, x.shape.length, 'slice axis');
    const size = x.shape[ax]!;
    const norm = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const s = norm(start);
    const e = Math.max(norm(end), s);
    if (step < 1 || !Number.isInteger(step)) throw new Error(`slice: step must be a positive integer, got ${step}`);
    if (s === 0 && e === size && step === 1) return x;
    return this.op('slice', [x], { axes: [ax], starts: [s], ends: [e], steps: [step] });
  }
  /** Splits along an axis into pieces of the given sizes. */
  split(x: Sym, axis: number, sizes: readonly number[]): Sym[] {
    const ax = normAxis(axis, x.shape.length, 'split axis');
    if (sizes.reduce((p, s) => p + s, 0) !== x.shape[ax]) {
      throw new Error(`split: sizes [${sizes.join(',')}] do not add up to ${x.shape[ax]}`);
    }
    let at = 0;
    return sizes.map((s) => {
      const piece = this.slice(x, ax, at, at + s);
      at += s;
      return piece;
    });
  }
  /** ONNX pads layout: begins for every axis, then ends. */
  pad(x: Sym, pads: readonly number[], mode: PadMode = 'constant', value = 0): Sym {
    if (pads.every((p) => p === 0)) return x;
    return this.op('pad', [x], { pads: [...pads], mode, value });
  }
  /** Pads the last two axes: [top, left, bottom, right]. */
  pad2d(x: Sym, pads: Pads2d, mode: PadMode = 'constant', value = 0): Sym {
    const r = x.shape.length;
    const begins = new Array<number>(r).fill(0);
    const ends = new Array<number>(r).fill(0);
    begins[r - 2] = pads[0];
    begins[r - 1] = pads[1];
    ends[r - 2] = pads[2];
    ends[r - 1] = pads[3];
    return this.pad(x, [...begins, ...ends], mode, value);
  }
  broadcastTo(x: Sym, shape: readonly number[]): Sym {
    if (shapesEqual(x.shape, shape)) return x;
    return this.op('broadcastTo', [x], { shape: [...shape] });
  }
  /** Inserts a size-1 axis. */
  unsqueeze(x: Sym, axis: number): Sym {
    const ax = normAxis(axis, x.shape.length + 1, 'unsqueeze axis');
    // Dims before the new axis keep their index: 0 copies them (keeps the batch dim generic).
    const s = x.shape.map((d, i) => (i < ax ? 0 : d));
    s.splice(ax, 0, 1);
    return this.reshape(x, s);
  }
  flatten(x: Sym, fromAxis = 1): Sym {
    const ax = normAxis(fromAxis, x.shape.length, 'flatten axis');
    return this.reshape(x, [...x.shape.slice(0, ax).map(() => 0), -1]);
  }

  // ---- linear algebra, convolution, pooling, resize ------------------------------------------
  matmul(a: Sym, b: Sym): Sym {
    return this.op('matmul', [a, b], {});
  }

  /** torch.nn.functional.linear: x @ w^T + b, w [out, in]. */
  linear(x: Sym, w: Sym, b?: Sym | null): Sym {
    const y = this.matmul(x, this.transpose(w, [1, 0]));
    return b ? this.add(y, b) : y;
  }

  conv2d(x: Sym, w: Sym, bias?: Sym | null, options: ConvOptions = {}): Sym {
    const attrs = this.convAttrs(x, w, options);
    return this.op('conv2d', bias ? [x, w, bias] : [x, w], attrs);
  }

  convTranspose2d(x: Sym, w: Sym, bias: Sym | null | undefined, attrs: ConvTranspose2dAttrs): Sym {
    return this.op('convTranspose2d', bias ? [x, w, bias] : [x, w], attrs);
  }

  /** Resolves stride / padding / dilation options into explicit attributes for x and w. */
  convAttrs(x: Sym, w: Sym, options: ConvOptions): Conv2dAttrs {
    const strides = pair(options.stride, 1);
    const dilations = pair(options.dilation, 1);
    const kernel: Pair = [w.shape[2] ?? 1, w.shape[3] ?? 1];
    return {
      strides,
      dilations,
      groups: options.groups ?? 1,
      pads: resolvePadding(options.padding ?? 'valid', [x.shape[2] ?? 0, x.shape[3] ?? 0], kernel, strides, dilations),
    };
  }

  avgPool2d(x: Sym, kernel: number | Pair, options: { stride?: number | Pair; padding?: Padding; countIncludePad?: boolean } = {}): Sym {
    const k = pair(kernel, 1);
    const strides = pair(options.stride ?? k, 1);
    const attrs: AvgPool2dAttrs = {
      kernel: k,
      strides,
      pads: resolvePadding(options.padding ?? 'valid', [x.shape[2] ?? 0, x.shape[3] ?? 0], k, strides, [1, 1]),
      countIncludePad: options.countIncludePad ?? true,
    };
    return this.op('avgPool2d', [x], attrs);
  }

  maxPool2d(x: Sym, kernel: number | Pair, options: { stride?: number | Pair; padding?: Padding } = {}): Sym {
    const k = pair(kernel, 1);
    const strides = pair(options.stride ?? k, 1);
    const attrs: Pool2dAttrs = {
      kernel: k,
      strides,
      pads: resolvePadding(options.padding ?? 'valid', [x.shape[2] ?? 0, x.shape[3] ?? 0], k, strides, [1, 1]),
    };
    return this.op('maxPool2d', [x], attrs);
  }

  resizeBilinear(x: Sym, size: Pair, alignCorners: boolean): Sym {
    if (x.shape[2] === size[0] && x.shape[3] === size[1]) return x;
    return this.op('resizeBilinear', [x], { size, alignCorners });
  }

  // ---- normalisation and friends -------------------------------------------------------------
  softmax(x: Sym, axis = -1): Sym {
    return this.op('softmax', [x], { axis: normAxis(axis, x.shape.length, 'softmax axis') });
  }
  layerNorm(x: Sym, gamma: Sym, beta: Sym, eps = 1e-5): Sym {
    return this.op('layerNorm', [x, gamma, beta], { eps });
  }
  groupNorm(x: Sym, gamma: Sym, beta: Sym, groups: number, eps = 1e-5): Sym {
    return this.op('groupNorm', [x, gamma, beta], { groups, eps });
  }
  batchNorm(x: Sym, scale: Sym, bias: Sym, mean: Sym, variance: Sym, eps = 1e-5): Sym {
    return this.op('batchNorm', [x, scale, bias, mean, variance], { eps });
  }
  cosineSimilarity(a: Sym, b: Sym, axis = 1, eps = 1e-8): Sym {
    const rank = Math.max(a.shape.length, b.shape.length);
    return this.op('cosineSimilarity', [a, b], { axis: normAxis(axis, rank, 'cosine axis'), eps });
  }
}

function toList(axes: number | readonly number[]): readonly number[] {
  return typeof axes === 'number' ? [axes] : axes;
}

function checkShape(shape: Shape, what: string): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${what}: shape ${formatShape(shape)} must hold non-negative integers`);
  }
}

export function resolvePadding(padding: Padding, size: Pair, kernel: Pair, strides: Pair, dilations: Pair): Pads2d {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (typeof padding === 'number') return [padding, padding, padding, padding];
  if (padding === 'same') {
    const [t, b] = samePadding(size[0], kernel[0], strides[0], dilations[0]);
    const [l, r] = samePadding(size[1], kernel[1], strides[1], dilations[1]);
    return [t, l, b, r];
  }
  return padding;
}

export function createGraph(options: BuilderOptions = {}): GraphBuilder {
  return new GraphBuilder(options);
}
