/**
 * Transformer sub-layers as the official code writes them (post-norm DETR/Mask2Former layers),
 * batch-first: tokens [N, L, E]. Dropout appears only in training graphs.
 */
import { layerNormLayer, linearLayer, multiheadAttention, torchBiasInit, type GraphBuilder, type Initializer, type Sym } from '@unias/graph';

export const XAVIER: Initializer = { kind: 'xavierUniform', gain: 1 };

/** x + pos, or x when there is no positional term. */
export function withPos(b: GraphBuilder, x: Sym, pos: Sym | null | undefined): Sym {
  return pos ? b.add(x, pos) : x;
}

export interface AttentionLayerOptions {
  readonly numHeads: number;
  readonly dropout: number;
  /** Blocked (query, key) pairs, row-major [Lq, Lk]; none when absent. */
  readonly blocked?: readonly boolean[] | undefined;
  /**
   * The official layers re-initialise every matrix with xavier_uniform_, out_proj included
   * (torch's own MultiheadAttention leaves out_proj at the Linear default).
   */
  readonly xavierOutProj?: boolean;
}

/** torch.nn.MultiheadAttention with the official layers' initialisation. */
export function attention(b: GraphBuilder, name: string, q: Sym, k: Sym, v: Sym, o: AttentionLayerOptions): Sym {
  if (o.xavierOutProj ?? true) {
    const e = q.shape[q.shape.length - 1]!;
    // Declared first so multiheadAttention's request for the same name returns this one.
    b.within(name, () => b.within('out_proj', () => b.param('weight', [e, e], XAVIER)));
  }
  return multiheadAttention(b, name, q, k, v, { numHeads: o.numHeads, dropout: o.dropout, ...(o.blocked ? { blocked: o.blocked } : {}) });
}

/** `CrossAttentionLayer` (post-norm): LN(x + MHA(q = x + queryPos, k = memory + pos, v = memory)). */
export function crossAttentionLayer(b: GraphBuilder, name: string, x: Sym, memory: Sym, pos: Sym | null, queryPos: Sym | null, o: AttentionLayerOptions): Sym {
  return b.within(name, () => {
    const a = attention(b, 'multihead_attn', withPos(b, x, queryPos), withPos(b, memory, pos), memory, o);
    return layerNormLayer(b, 'norm', b.add(x, b.dropout(a, o.dropout)));
  });
}

/** `SelfAttentionLayer` (post-norm): LN(x + MHA(q = k = x + queryPos, v = x)). */
export function selfAttentionLayer(b: GraphBuilder, name: string, x: Sym, queryPos: Sym | null, o: AttentionLayerOptions): Sym {
  return b.within(name, () => {
    const qk = withPos(b, x, queryPos);
    const a = attention(b, 'self_attn', qk, qk, x, o);
    return layerNormLayer(b, 'norm', b.add(x, b.dropout(a, o.dropout)));
  });
}

/** Linear with xavier weight and torch's default bias, as the official layers initialise. */
export function xavierLinear(b: GraphBuilder, name: string, x: Sym, out: number): Sym {
  const inF = x.shape[x.shape.length - 1]!;
  return linearLayer(b, name, x, { out, weightInit: XAVIER, biasInit: torchBiasInit(inF) });
}

/** `FFNLayer` (post-norm): LN(x + drop(W2 drop(relu(W1 x)))). */
export function ffnLayer(b: GraphBuilder, name: string, x: Sym, o: { readonly dimFeedforward: number; readonly dropout: number }): Sym {
  const e = x.shape[x.shape.length - 1]!;
  return b.within(name, () => {
    const h = b.dropout(b.relu(xavierLinear(b, 'linear1', x, o.dimFeedforward)), o.dropout);
    const y = xavierLinear(b, 'linear2', h, e);
    return layerNormLayer(b, 'norm', b.add(x, b.dropout(y, o.dropout)));
  });
}

/**
 * DETR `TransformerEncoderLayer`, post-norm: x = LN1(x + SelfAttn(q = k = x + pos, v = x));
 * x = LN2(x + W2 relu(W1 x)). Params `self_attn.*`, `linear1`, `linear2`, `norm1`, `norm2`.
 */
export function encoderLayer(
  b: GraphBuilder,
  name: string,
  x: Sym,
  pos: Sym,
  o: { readonly numHeads: number; readonly dimFeedforward: number; readonly dropout: number },
): Sym {
  const e = x.shape[x.shape.length - 1]!;
  return b.within(name, () => {
    const qk = b.add(x, pos);
    const a = attention(b, 'self_attn', qk, qk, x, { numHeads: o.numHeads, dropout: o.dropout });
    const x1 = layerNormLayer(b, 'norm1', b.add(x, b.dropout(a, o.dropout)));
    const h = b.dropout(b.relu(xavierLinear(b, 'linear1', x1, o.dimFeedforward)), o.dropout);
    const y = xavierLinear(b, 'linear2', h, e);
    return layerNormLayer(b, 'norm2', b.add(x1, b.dropout(y, o.dropout)));
  });
}

/** [N, C, H, W] -> tokens [N, H*W, C]. */
export function toTokens(b: GraphBuilder, x: Sym): Sym {
  const [, c, h, w] = x.shape as [number, number, number, number];
  return b.transpose(b.reshape(x, [0, c, h * w]), [0, 2, 1]);
}

/** tokens [N, H*W, C] -> [N, C, H, W]. */
export function fromTokens(b: GraphBuilder, t: Sym, h: number, w: number): Sym {
  const c = t.shape[2]!;
  return b.reshape(b.transpose(t, [0, 2, 1]), [0, c, h, w]);
}

export interface BareConvOptions {
  readonly out: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly padding?: number;
  readonly bias?: boolean;
  readonly weightInit?: Initializer;
  readonly biasInit?: Initializer;
}

/**
 * A convolution whose `weight` / `bias` sit directly in the current scope: detectron2's
 * `Conv2d(norm=...)` is itself the module (`adapter_1.weight` beside `adapter_1.norm.*`).
 */
export function bareConv(b: GraphBuilder, x: Sym, o: BareConvOptions): Sym {
  const inC = x.shape[1]!;
  const fanIn = inC * o.kernel * o.kernel;
  const w = b.param('weight', [o.out, inC, o.kernel, o.kernel], o.weightInit ?? { kind: 'kaimingUniform', a: Math.sqrt(5) });
  const bias = (o.bias ?? true) ? b.param('bias', [o.out], o.biasInit ?? torchBiasInit(fanIn)) : null;
  return b.conv2d(x, w, bias, { stride: o.stride ?? 1, padding: o.padding ?? 0 });
}
