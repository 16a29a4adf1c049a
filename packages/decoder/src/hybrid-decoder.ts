/**
 * The hybrid decoder (official `MultiScaleMaskedTransformerDecoder`): per level a spatial +
 * channel attention block over that level's tokens, an adaptor (MGG-CNN by default) whose output
 * both feeds the level's prediction head and becomes the next level's queries.
 */
import { conv2dLayer, layerNormLayer, zeros, type GraphBuilder, type Initializer, type Sym } from '@unias/graph';
import { createAdaptor, type AdaptorKind } from '@unias/mgg-cnn';
import { XAVIER, bareConv, crossAttentionLayer, ffnLayer, fromTokens, selfAttentionLayer, toTokens } from './layers.js';
import { neighbourMask } from './neighbour-mask.js';
import { C2_XAVIER } from './pixel-decoder.js';
import { sinePositionTokens } from './position-encoding.js';
import { queryProcessor } from './query-processor.js';

/** `spatial-channel`: the paper's block (MVTec config); `spatial`: spatial branch only (VisA config). */
export type AttentionKind = 'spatial-channel' | 'spatial';

export interface HybridDecoderOptions {
  /** Token width (official HIDDEN_DIM). */
  readonly hidden: number;
  /** Width of the prediction heads' convs (official MASK_DIM). */
  readonly maskDim: number;
  readonly numHeads: number;
  /** FFN width of both branches (official ATTN.dim_feedforward). */
  readonly dimFeedforward: number;
  /** Dropout in every attention and FFN (official 0.1); only training graphs have it. */
  readonly dropout?: number;
  readonly attention?: AttentionKind;
  /** Adaptor after each level's block (default MGG-CNN at `adaptorHidden` width). */
  readonly adaptor?: AdaptorKind;
  /** Width inside the level adaptors (official ADAPTOR.hidden_dim); default hidden. */
  readonly adaptorHidden?: number;
  /** Width inside the query processor's MGG-CNN (official QUERY.PROCESSOR.hidden_dim); default hidden. */
  readonly queryAdaptorHidden?: number;
  /** Neighbourhood blocked in the spatial attentions (odd; 0 = no mask). Default 7. */
  readonly neighbourSize?: number;
  /** Channels of the reconstruction target of each level, from the coarsest to the finest. */
  readonly targetChannels: readonly number[];
}

const EMBEDDING: Initializer = { kind: 'normal', mean: 0, std: 1 };

/**
 * maps: pixel-decoder outputs from the coarsest to the finest, [N, C, H_i, W_i] with H_i = h * 2^i
 * (any integer multiple of the coarsest grid). Returns one reconstruction per level,
 * [N, targetChannels[i], H_i, W_i]. Params under the current scope as the official `predictor.*`.
 */
export function hybridDecoder(b: GraphBuilder, maps: readonly Sym[], o: HybridDecoderOptions): Sym[] {
  const levels = maps.length;
  if (levels === 0) throw new Error('hybrid decoder: no input maps');
  if (o.targetChannels.length !== levels) {
    throw new Error(`hybrid decoder: ${o.targetChannels.length} target channel counts for ${levels} levels`);
  }
  const { hidden } = o;
  const dropout = o.dropout ?? 0.1;
  const attentionKind = o.attention ?? 'spatial-channel';
  const [, convDim, gh, gw] = maps[0]!.shape as [number, number, number, number];
  const q = gh * gw;
  if (hidden % o.numHeads !== 0) throw new Error(`hybrid decoder: hidden ${hidden} is not divisible by ${o.numHeads} heads`);
  if (hidden % 4 !== 0) throw new Error(`hybrid decoder: hidden ${hidden} must be a multiple of 4 (sine encoding)`);
  if (attentionKind === 'spatial-channel' && q % o.numHeads !== 0) {
    throw new Error(
      `hybrid decoder: the channel branch attends over ${q} = ${gh}x${gw} positions, not divisible by ${o.numHeads} heads; ` +
        'choose another input size or attention "spatial"',
    );
  }
  const blocked = neighbourMask(gh, gw, o.neighbourSize ?? 7);

  // ---- token sources: patch-embed to the coarsest grid, 1x1 to hidden, plus a level embedding
  const levelEmbed = b.param('level_embed_src.weight', [levels, hidden], EMBEDDING);
  const sources = maps.map((m, i) => {
    const [, c, h, w] = m.shape as [number, number, number, number];
    if (c !== convDim || h % gh !== 0 || w % gw !== 0 || h / gh !== w / gw) {
      throw new Error(`hybrid decoder: map ${i} [${m.shape.join(',')}] is not a ${convDim}-channel multiple of the ${gh}x${gw} grid`);
    }
    const patch = h / gh;
    const embedded =
      patch === 1
        ? m
        : b.within('patch_embed', () =>
            b.within(i, () =>
              b.within('proj', () =>
                bareConv(b, m, { out: Math.floor((hidden * (i + 1)) / 2), kernel: patch, stride: patch, weightInit: XAVIER, biasInit: zeros }),
              ),
            ),
          );
    const projected = b.within('input_proj', () => conv2dLayer(b, String(i), embedded, { out: hidden, kernel: 1, weightInit: C2_XAVIER, biasInit: zeros }));
    return b.add(toTokens(b, projected), b.slice(levelEmbed, 0, i, i + 1));
  });
  const pos = sinePositionTokens(b, gh, gw, hidden); // [Q, hidden]
  const posT = b.transpose(pos, [1, 0]); // [hidden, Q]

  // ---- queries
  const queryPos = b.param('spatial_query_embed.weight', [q, hidden], EMBEDDING);
  const queryFeat = b.param('spatial_query_feat.weight', [2 * q, hidden], EMBEDDING);
  const projected = conv2dLayer(b, 'feature_projector', maps[0]!, { out: hidden, kernel: 3, padding: 1 });
  let output = b.within('query_processor', () => queryProcessor(b, projected, queryFeat, { hidden, adaptorHidden: o.queryAdaptorHidden ?? hidden }));

  const adaptor = createAdaptor(o.adaptor ?? 'mgg-cnn', { out: hidden, hidden: o.adaptorHidden ?? hidden });
  const attn = { numHeads: o.numHeads, dropout };
  const recon: Sym[] = [];
  for (let i = 0; i < levels; i++) {
    const src = sources[i]!;
    const x = output;
    output = b.within('transformer_block', () =>
      b.within(i, () => {
        let s = crossAttentionLayer(b, 'SpatialCrossAttnLayer', x, src, pos, queryPos, { ...attn, blocked });
        s = selfAttentionLayer(b, 'SpatialSelfAttnLayer', s, queryPos, { ...attn, blocked });
        s = ffnLayer(b, 'SpatialFFNLayer', s, { dimFeedforward: o.dimFeedforward, dropout });
        if (attentionKind === 'spatial') return s;
        // Channel branch on the same block input: tokens are the hidden channels, width Q.
        const xT = b.transpose(x, [0, 2, 1]);
        const srcT = b.transpose(src, [0, 2, 1]);
        let c = crossAttentionLayer(b, 'ChannelCrossAttnLayer', xT, srcT, posT, null, attn);
        c = selfAttentionLayer(b, 'ChannelSelfAttnLayer', c, null, attn);
        c = ffnLayer(b, 'ChannelFFNLayer', c, { dimFeedforward: o.dimFeedforward, dropout });
        return b.add(s, b.transpose(c, [0, 2, 1]));
      }),
    );
    // Adaptor on the token grid, no residual around it.
    output = toTokens(
      b,
      b.within('layer_adaptors', () => adaptor.apply(b, String(i), fromTokens(b, output, gh, gw))),
    );
    recon.push(predictionHead(b, i, output, maps[i]!, gh, gw, o));
  }
  return recon;
}

/** Shared LayerNorm -> grid -> bilinear (align_corners = true) to the level's size -> three 3x3 convs. */
function predictionHead(b: GraphBuilder, i: number, tokens: Sym, map: Sym, gh: number, gw: number, o: HybridDecoderOptions): Sym {
  const normed = layerNormLayer(b, 'decoder_norm', tokens);
  const up = b.resizeBilinear(fromTokens(b, normed, gh, gw), [map.shape[2]!, map.shape[3]!], true);
  return b.within('out_agg', () =>
    b.within(i, () => {
      const c1 = conv2dLayer(b, '1', up, { out: o.maskDim, kernel: 3, padding: 1 });
      const c2 = conv2dLayer(b, '2', c1, { out: o.maskDim, kernel: 3, padding: 1 });
      return conv2dLayer(b, '3', c2, { out: o.targetChannels[i]!, kernel: 3, padding: 1 });
    }),
  );
}
