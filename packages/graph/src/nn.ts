/**
 * Layers with PyTorch's parameter names, shapes and default initialisation, so a state_dict maps
 * onto a graph by name. Each takes the builder and a name (a scope), reads like `nn.Module.forward`,
 * and returns the output symbol.
 */
import type { ConvOptions, GraphBuilder } from './builder.js';
import type { Sym } from './graph.js';
import { ones, torchBiasInit, zeros, type Initializer } from './init.js';

const KAIMING_DEFAULT: Initializer = { kind: 'kaimingUniform', a: Math.sqrt(5) };

export interface ConvLayerOptions extends ConvOptions {
  out: number;
  kernel: number | readonly [number, number];
  /** Default true (torch.nn.Conv2d). */
  bias?: boolean;
  trainable?: boolean;
  weightInit?: Initializer;
  biasInit?: Initializer;
}

/** torch.nn.Conv2d: params `<name>.weight` [out, in/groups, kh, kw] and `<name>.bias` [out]. */
export function conv2dLayer(b: GraphBuilder, name: string, x: Sym, o: ConvLayerOptions): Sym {
  const [kh, kw] = typeof o.kernel === 'number' ? [o.kernel, o.kernel] : o.kernel;
  const inC = x.shape[1]!;
  const groups = o.groups ?? 1;
  return b.within(name, () => {
    const trainable = o.trainable ?? true;
    const w = b.param('weight', [o.out, inC / groups, kh, kw], o.weightInit ?? KAIMING_DEFAULT, { trainable });
    const bias = (o.bias ?? true) ? b.param('bias', [o.out], o.biasInit ?? torchBiasInit((inC / groups) * kh * kw), { trainable }) : null;
    return b.conv2d(x, w, bias, o);
  });
}

export interface LinearLayerOptions {
  out: number;
  bias?: boolean;
  trainable?: boolean;
  weightInit?: Initializer;
  biasInit?: Initializer;
}

/** torch.nn.Linear on the last axis: `<name>.weight` [out, in], `<name>.bias` [out]. */
export function linearLayer(b: GraphBuilder, name: string, x: Sym, o: LinearLayerOptions): Sym {
  const inF = x.shape[x.shape.length - 1]!;
  return b.within(name, () => {
    const trainable = o.trainable ?? true;
    const w = b.param('weight', [o.out, inF], o.weightInit ?? KAIMING_DEFAULT, { trainable });
    const bias = (o.bias ?? true) ? b.param('bias', [o.out], o.biasInit ?? torchBiasInit(inF), { trainable }) : null;
    return b.linear(x, w, bias);
  });
}

/** torch.nn.LayerNorm over the last axis: `<name>.weight`, `<name>.bias`. */
export function layerNormLayer(b: GraphBuilder, name: string, x: Sym, eps = 1e-5, trainable = true): Sym {
  const c = x.shape[x.shape.length - 1]!;
  return b.within(name, () => b.layerNorm(x, b.param('weight', [c], ones, { trainable }), b.param('bias', [c], zeros, { trainable }), eps));
}

/** torch.nn.GroupNorm: `<name>.weight`, `<name>.bias`. */
export function groupNormLayer(b: GraphBuilder, name: string, x: Sym, groups: number, eps = 1e-5, trainable = true): Sym {
  const c = x.shape[1]!;
  return b.within(name, () => b.groupNorm(x, b.param('weight', [c], ones, { trainable }), b.param('bias', [c], zeros, { trainable }), groups, eps));
}

/**
 * torch.nn.BatchNorm2d in inference mode (frozen backbones): `<name>.weight`, `.bias`,
 * `.running_mean`, `.running_var`. Running statistics are never trainable.
 */
export function batchNormLayer(b: GraphBuilder, name: string, x: Sym, eps = 1e-5, trainable = false): Sym {
  const c = x.shape[1]!;
  return b.within(name, () =>
    b.batchNorm(
      x,
      b.param('weight', [c], ones, { trainable }),
      b.param('bias', [c], zeros, { trainable }),
      b.param('running_mean', [c], zeros, { trainable: false }),
      b.param('running_var', [c], ones, { trainable: false }),
      eps,
    ),
  );
}

export interface AttentionOptions {
  numHeads: number;
  /**
   * Positions a query may not attend to, [Lq, Lk] row-major, true = blocked (as PyTorch's boolean
   * attn_mask). Every row must leave at least one key open.
   */
  blocked?: readonly boolean[];
  /** Dropout on the attention weights (training graphs only). */
  dropout?: number;
}

/**
 * torch.nn.MultiheadAttention, batch-first: query [N, Lq, E], key/value [N, Lk, E]. Params
 * `<name>.in_proj_weight` [3E, E], `.in_proj_bias` [3E], `.out_proj.weight` [E, E], `.out_proj.bias` [E].
 */
export function multiheadAttention(b: GraphBuilder, name: string, query: Sym, key: Sym, value: Sym, o: AttentionOptions): Sym {
  const e = query.shape[query.shape.length - 1]!;
  const h = o.numHeads;
  if (e % h !== 0) throw new Error(`multiheadAttention ${name}: embed dim ${e} not divisible by ${h} heads`);
  const d = e / h;
  const lq = query.shape[1]!;
  const lk = key.shape[1]!;
  return b.within(name, () => {
    const w = b.param('in_proj_weight', [3 * e, e], { kind: 'xavierUniform', gain: 1 });
    const bias = b.param('in_proj_bias', [3 * e], zeros);
    const [wq, wk, wv] = b.split(w, 0, [e, e, e]);
    const [bq, bk, bv] = b.split(bias, 0, [e, e, e]);
    // [N, L, E] -> [N, h, L, d]
    const heads = (t: Sym, len: number) => b.transpose(b.reshape(t, [0, len, h, d]), [0, 2, 1, 3]);
    const q = heads(b.mul(b.linear(query, wq!, bq), 1 / Math.sqrt(d)), lq);
    const k = heads(b.linear(key, wk!, bk), lk);
    const v = heads(b.linear(value, wv!, bv), lk);
    let scores = b.matmul(q, b.transpose(k, [0, 1, 3, 2]));
    if (o.blocked) {
      if (o.blocked.length !== lq * lk) throw new Error(`multiheadAttention ${name}: mask has ${o.blocked.length} entries, expected ${lq}x${lk}`);
      // A large negative rather than -inf keeps gradients finite; exp() of it is exactly 0 in float32.
      scores = b.add(
        scores,
        b.constant(
          o.blocked.map((x) => (x ? -1e9 : 0)),
          [lq, lk],
        ),
      );
    }
    const attn = b.dropout(b.softmax(scores, -1), o.dropout ?? 0);
    const ctx = b.reshape(b.transpose(b.matmul(attn, v), [0, 2, 1, 3]), [0, lq, e]);
    return b.within('out_proj', () => b.linear(ctx, b.param('weight', [e, e], KAIMING_DEFAULT), b.param('bias', [e], zeros)));
  });
}
