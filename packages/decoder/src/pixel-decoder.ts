/**
 * The pixel decoder (official `TransformerEncoderPixelDecoder`): a Transformer encoder on the
 * deepest level, then an FPN top-down path with GroupNorm. Parameter names as the official
 * state_dict: `input_proj`, `transformer.encoder.layers.<i>`, `layer_<L>` (post-transformer conv),
 * `adapter_<k>` / `layer_<k>` (lateral / output conv of level k, k = 1 the finest).
 */
import { conv2dLayer, groupNormLayer, zeros, type GraphBuilder, type Initializer, type Sym } from '@unias/graph';
import { bareConv, encoderLayer, fromTokens, toTokens } from './layers.js';
import { sinePositionTokens } from './position-encoding.js';

/** fvcore's c2_xavier_fill: kaiming_uniform_(a = 1), zero bias. */
export const C2_XAVIER: Initializer = { kind: 'kaimingUniform', a: 1 };

export interface PixelDecoderOptions {
  /** Width of every output map (official CONV_DIM). */
  readonly convDim: number;
  readonly numHeads: number;
  readonly dimFeedforward: number;
  /** Transformer encoder layers (official 3). */
  readonly encoderLayers?: number;
  /** Dropout in the encoder (official 0.1); only training graphs have it. */
  readonly dropout?: number;
  /** GroupNorm groups (official 32). */
  readonly groups?: number;
}

function checkOptions(features: readonly Sym[], o: PixelDecoderOptions): void {
  if (features.length === 0) throw new Error('pixel decoder: no input features');
  const groups = o.groups ?? 32;
  if (o.convDim % groups !== 0) throw new Error(`pixel decoder: convDim ${o.convDim} is not divisible by ${groups} GroupNorm groups`);
  if (o.convDim % o.numHeads !== 0) throw new Error(`pixel decoder: convDim ${o.convDim} is not divisible by ${o.numHeads} heads`);
  if (o.convDim % 4 !== 0) throw new Error(`pixel decoder: convDim ${o.convDim} must be a multiple of 4 (sine encoding)`);
  features.forEach((f, i) => {
    if (f.shape.length !== 4) throw new Error(`pixel decoder: feature ${i} must be [N,C,H,W], got [${f.shape.join(',')}]`);
    if (i > 0 && (f.shape[2]! > features[i - 1]!.shape[2]! || f.shape[3]! > features[i - 1]!.shape[3]!)) {
      throw new Error('pixel decoder: features must be ordered from the finest to the coarsest');
    }
  });
}

/**
 * features: the decoder inputs from the finest to the coarsest level ([N, C_k, H_k, W_k]).
 * Returns the output maps from the coarsest to the finest, each [N, convDim, H_k, W_k].
 */
export function pixelDecoder(b: GraphBuilder, features: readonly Sym[], o: PixelDecoderOptions): Sym[] {
  checkOptions(features, o);
  const groups = o.groups ?? 32;
  const dropout = o.dropout ?? 0.1;
  const levels = features.length;
  const deepest = features[levels - 1]!;
  const [, , h, w] = deepest.shape as [number, number, number, number];
  const proj = conv2dLayer(b, 'input_proj', deepest, { out: o.convDim, kernel: 1, weightInit: C2_XAVIER, biasInit: zeros });
  const pos = sinePositionTokens(b, h, w, o.convDim);
  let tokens = toTokens(b, proj);
  b.within('transformer', () =>
    b.within('encoder', () =>
      b.within('layers', () => {
        for (let i = 0; i < (o.encoderLayers ?? 3); i++) {
          tokens = encoderLayer(b, String(i), tokens, pos, { numHeads: o.numHeads, dimFeedforward: o.dimFeedforward, dropout });
        }
      }),
    ),
  );
  const outConv = (name: string, x: Sym, norm: boolean): Sym =>
    b.within(name, () => {
      const y = bareConv(b, x, { out: o.convDim, kernel: 3, padding: 1, bias: false, weightInit: C2_XAVIER });
      return b.relu(norm ? groupNormLayer(b, 'norm', y, groups) : y);
    });
  let y = outConv(`layer_${levels}`, fromTokens(b, tokens, h, w), false);
  const maps = [y];
  for (let k = levels - 1; k >= 1; k--) {
    const u = features[k - 1]!;
    const lateral = b.within(`adapter_${k}`, () =>
      groupNormLayer(b, 'norm', bareConv(b, u, { out: o.convDim, kernel: 1, bias: false, weightInit: C2_XAVIER }), groups),
    );
    y = b.add(lateral, b.resizeBilinear(y, [u.shape[2]!, u.shape[3]!], false));
    y = outConv(`layer_${k}`, y, true);
    maps.push(y);
  }
  return maps;
}
