/**
 * The query processor (official `LinCombWeightedQuery`): 2Q learned query vectors, reweighted by
 * channel and spatial attention computed from the coarsest pixel-decoder map, folded into a
 * [N, 2*hidden, h, w] grid and reduced by an MGG-CNN to Q tokens of width hidden.
 */
import { conv2dLayer, torchBiasInit, type GraphBuilder, type Sym } from '@unias/graph';
import { mggCnn } from '@unias/mgg-cnn';
import { XAVIER, xavierLinear } from './layers.js';

export interface QueryProcessorOptions {
  /** Token width. */
  readonly hidden: number;
  /** Width inside the processor's MGG-CNN (official QUERY.PROCESSOR.hidden_dim). */
  readonly adaptorHidden: number;
}

/** MLP C -> C/2 -> C/2 -> C with ReLU between layers (official `MLP(C, C//2, C, 3)`), on [N, C]. */
function channelMlp(b: GraphBuilder, x: Sym, c: number): Sym {
  const half = Math.floor(c / 2);
  return b.within('layers', () => {
    const h1 = b.relu(xavierLinear(b, '0', x, half));
    const h2 = b.relu(xavierLinear(b, '1', h1, half));
    return xavierLinear(b, '2', h2, c);
  });
}

/**
 * feature: the projected coarsest map [N, hidden, h, w]; queries: the learned vectors [2Q, hidden]
 * (Q = h*w). Returns tokens [N, Q, hidden]. Params under the current scope: `channel_weight.agg.*`,
 * `spatial_weight.conv.*`, `adaptor.*`.
 */
export function queryProcessor(b: GraphBuilder, feature: Sym, queries: Sym, o: QueryProcessorOptions): Sym {
  const [, c, h, w] = feature.shape as [number, number, number, number];
  const q = h * w;
  if (queries.shape[0] !== 2 * q || queries.shape[1] !== c) {
    throw new Error(`query processor: queries must be [${2 * q}, ${c}], got [${queries.shape.join(',')}]`);
  }
  // channel weights [N, 1, C]
  const channel = b.within('channel_weight', () =>
    b.within('agg', () => {
      const avg = channelMlp(b, b.reshape(b.globalAvgPool(feature), [0, c]), c);
      const max = channelMlp(b, b.reshape(b.globalMaxPool(feature), [0, c]), c);
      return b.reshape(b.sigmoid(b.add(avg, max)), [0, 1, c]);
    }),
  );
  // spatial weights [N, 2Q, 1]: query n and n + Q share position n
  const spatial = b.within('spatial_weight', () => {
    const pooled = b.concat([b.mean(feature, 1, true), b.max(feature, 1, true)], 1);
    const s = b.sigmoid(conv2dLayer(b, 'conv', pooled, { out: 1, kernel: 7, padding: 3, weightInit: XAVIER, biasInit: torchBiasInit(2 * 49) }));
    const flat = b.reshape(s, [0, q]);
    return b.reshape(b.concat([flat, flat], 1), [0, 2 * q, 1]);
  });
  // c * Q + s * Q, [N, 2Q, C]
  const weighted = b.add(b.mul(channel, queries), b.mul(spatial, queries));
  // A row-major reshape of [N, C, 2Q] to [N, 2C, h, w]: query l < Q -> channel 2c, l >= Q -> 2c + 1.
  const grid = b.reshape(b.transpose(weighted, [0, 2, 1]), [0, 2 * c, h, w]);
  const reduced = mggCnn(b, 'adaptor', grid, { hidden: o.adaptorHidden, out: c });
  return b.transpose(b.reshape(reduced, [0, c, q]), [0, 2, 1]);
}
