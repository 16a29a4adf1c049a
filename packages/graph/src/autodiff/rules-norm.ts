/** Closed-form gradients of softmax, the normalisations and cosine similarity. */
import type { Sym } from '../graph.js';
import { broadcastShapes } from '../shape.js';
import { shapesEqual } from '../tensor-data.js';
import type { GradOps } from './grad-ops.js';
import type { GradRule } from './rule-types.js';

/**
 * dx = y (dy - sum(dy y)) along the axis, i.e. t - y sum(t) with t = dy y. Attention's dropout
 * (y m, its adjoint dy = u m) gives t = u (y m), a product the forward pass already holds: one
 * full-size Mul fewer per attention layer (-5.7 ms of kernel time, 0.978x, in the `cpu` step at
 * 224x224, batch 8; bench/ab-step.ts).
 */
export const softmax: GradRule<'softmax'> = ({ g, dy, y, node, needs }) => {
  if (!needs[0]) return [];
  const axis = node.attrs.axis;
  const t = maskedProduct(g, dy, y);
  if (t) return [g.sub(t, g.mul(y, g.reduceSum(t, [axis], true)))];
  return [g.mul(y, g.sub(dy, g.reduceSum(g.mul(dy, y), [axis], true)))];
};

/** dy y as u (y m) when dy is u m and the graph already holds y m at y's shape; else undefined. */
function maskedProduct(g: GradOps, dy: Sym, y: Sym): Sym | undefined {
  if (dy.kind !== 'op' || dy.op !== 'mul') return undefined;
  const [upstream, mask] = dy.inputs as [Sym, Sym];
  const masked = g.existing('mul', [y, mask], {});
  if (!masked || !shapesEqual(masked.shape, y.shape) || !shapesEqual(upstream.shape, y.shape)) return undefined;
  return g.mul(upstream, masked);
}

/**
 * Normalisation over the last axis of `x` (biased variance): returns x_hat and 1/sigma (kept dims),
 * recomputed from x in the backward graph (cheaper than storing them, and the forward op is fused).
 */
function normalise(g: GradOps, x: Sym, eps: number): { xhat: Sym; rstd: Sym } {
  const axis = x.shape.length - 1;
  const centred = g.sub(x, g.reduceMean(x, [axis], true));
  const variance = g.reduceMean(g.square(centred), [axis], true);
  const rstd = g.div(1, g.sqrt(g.add(variance, eps)));
  return { xhat: g.mul(centred, rstd), rstd };
}

/** d x for y = x_hat * gamma + beta: rstd (gh - mean(gh) - x_hat mean(gh x_hat)), gh = dy gamma. */
function normaliseBackward(g: GradOps, gh: Sym, xhat: Sym, rstd: Sym): Sym {
  const axis = xhat.shape.length - 1;
  const meanG = g.reduceMean(gh, [axis], true);
  const meanGX = g.reduceMean(g.mul(gh, xhat), [axis], true);
  return g.mul(rstd, g.sub(g.sub(gh, meanG), g.mul(xhat, meanGX)));
}

function allBut(rank: number, keep: number): number[] {
  return Array.from({ length: rank }, (_, i) => i).filter((i) => i !== keep);
}

export const layerNorm: GradRule<'layerNorm'> = ({ g, dy, node, needs }) => {
  const [x, gamma] = node.inputs as [Sym, Sym, Sym];
  const r = x.shape.length;
  const { xhat, rstd } = normalise(g, x, node.attrs.eps);
  const outer = allBut(r, r - 1);
  return [
    needs[0] ? normaliseBackward(g, g.mul(dy, gamma), xhat, rstd) : null,
    needs[1] ? g.reduceSum(g.mul(dy, xhat), outer, false) : null,
    needs[2] ? g.reduceSum(dy, outer, false) : null,
  ];
};

/** Per-channel [C] values as [C, 1, ...] so they broadcast over axis 1 of an [N, C, ...] tensor. */
function perChannel(g: GradOps, v: Sym, rank: number): Sym {
  return g.reshape(v, [v.shape[0]!, ...new Array<number>(rank - 2).fill(1)]);
}

/**
 * groupNorm is layerNorm over [N, G, M = C/G * spatial] with per-channel gamma and beta. The
 * closed form rstd (gh - mean(gh) - x_hat mean(gh x_hat)), gh = dy gamma, is regrouped so that only
 * per-(image, channel) sums of dy and dy (x - mu) are taken over the maps:
 *
 *   dx = dy * (rstd gamma) + (x - mu) * (-rstd^3 mean(gh (x - mu))) - rstd mean(gh)
 *
 * with mean(gh) = sum_c gamma_c S_c / M and mean(gh (x - mu)) = sum_c gamma_c P_c / M per group,
 * S = sum dy and P = sum dy (x - mu) over each channel's pixels; dgamma = sum_n rstd P, dbeta =
 * sum_n S. Five map-sized products and sums instead of ten: on the `cpu` preset's 128x128 maps the
 * normalisations' backward was a chain of full-size elementwise ops.
 */
export const groupNorm: GradRule<'groupNorm'> = ({ g, dy, node, needs }) => {
  const [x, gamma] = node.inputs as [Sym, Sym, Sym];
  const r = x.shape.length;
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const G = node.attrs.groups;
  const pixels = x.shape.slice(2).reduce((p, d) => p * d, 1);
  const M = (C / G) * pixels;
  const grouped = [N, G, M];
  const xg = g.reshape(x, grouped);
  const centredG = g.sub(xg, g.reduceMean(xg, [2], true));
  const rstd = g.div(1, g.sqrt(g.add(g.reduceMean(g.square(centredG), [2], true), node.attrs.eps))); // [N, G, 1]
  const perPixel = [N, C, pixels];
  const dyC = g.reshape(dy, perPixel);
  const S = g.reduceSum(dyC, [2], false); // [N, C]
  const P = needs[0] || needs[1] ? g.reduceSum(g.mul(dyC, g.reshape(centredG, perPixel)), [2], false) : null; // [N, C]
  const rstdPerChannel = g.reshape(g.broadcastTo(rstd, [N, G, C / G]), [N, C]);
  let dx: Sym | null = null;
  if (needs[0]) {
    const byGroup = (v: Sym) => g.reduceSum(g.reshape(g.mul(v, gamma), [N, G, C / G]), [2], true); // [N, G, 1]
    const meanGh = g.div(byGroup(S), M);
    const meanGhCentred = g.div(byGroup(P!), M);
    const dyScale = g.reshape(g.mul(rstdPerChannel, gamma), [N, C, ...new Array<number>(r - 2).fill(1)]);
    const centredScale = g.neg(g.mul(g.mul(rstd, g.square(rstd)), meanGhCentred));
    const shift = g.neg(g.mul(rstd, meanGh));
    dx = g.add(g.mul(dy, dyScale), g.reshape(g.add(g.mul(centredG, centredScale), shift), x.shape));
  }
  return [dx, needs[1] ? g.reduceSum(g.mul(rstdPerChannel, P!), [0], false) : null, needs[2] ? g.reduceSum(S, [0], false) : null];
};

/**
 * Inference batch norm y = (x - m) rstd s + b, rstd = (v + eps)^-1/2, per channel:
 * dx = dy s rstd; ds = sum dy (x - m) rstd; db = sum dy; dm = -sum(dy) s rstd;
 * dv = -1/2 sum(dy (x - m)) s rstd^3.
 */
export const batchNorm: GradRule<'batchNorm'> = ({ g, dy, node, needs }) => {
  const [x, scale, , mean, variance] = node.inputs as [Sym, Sym, Sym, Sym, Sym];
  const r = x.shape.length;
  const outer = allBut(r, 1);
  const rstd = g.div(1, g.sqrt(g.add(variance, node.attrs.eps)));
  const scaleRstd = g.mul(scale, rstd);
  const centred = () => g.sub(x, perChannel(g, mean, r));
  const sumDy = () => g.reduceSum(dy, outer, false);
  const sumDyCentred = () => g.reduceSum(g.mul(dy, centred()), outer, false);
  return [
    needs[0] ? g.mul(dy, perChannel(g, scaleRstd, r)) : null,
    needs[1] ? g.mul(sumDyCentred(), rstd) : null,
    needs[2] ? sumDy() : null,
    needs[3] ? g.neg(g.mul(sumDy(), scaleRstd)) : null,
    needs[4] ? g.mul(g.mul(sumDyCentred(), g.mul(scaleRstd, g.square(rstd))), -0.5) : null,
  ];
};

/**
 * cos = <a, b> / max(|a| |b|, eps) along an axis, inputs broadcast to a common shape S first.
 * Where |a||b| > eps: dcos/da = b / (|a||b|) - cos a / |a|^2; where the eps floor is active the
 * denominator is constant: dcos/da = b / eps. Both are summed back to each input's own shape.
 */
export const cosineSimilarity: GradRule<'cosineSimilarity'> = ({ g, dy, y, node, needs }) => {
  const [a, b] = node.inputs as [Sym, Sym];
  const { axis, eps } = node.attrs;
  const S = broadcastShapes(a.shape, b.shape, 'cosineSimilarity');
  const A = g.broadcastTo(a, S);
  const B = g.broadcastTo(b, S);
  const kept = S.map((d, i) => (i === axis ? 1 : d));
  const dyK = g.reshape(dy, kept);
  const cos = g.reshape(y, kept);
  const aa = g.reduceSum(g.square(A), [axis], true);
  const bb = g.reduceSum(g.square(B), [axis], true);
  const norms = g.mul(g.sqrt(aa), g.sqrt(bb));
  const active = g.greater(norms, eps);
  const denom = g.maximum(norms, eps);
  const part = (other: Sym, self: Sym, selfSq: Sym) => g.mul(dyK, g.sub(g.div(other, denom), g.mul(g.where(active, g.div(cos, selfSq), 0), self)));
  return [needs[0] ? g.unbroadcast(part(B, A, aa), a.shape) : null, needs[1] ? g.unbroadcast(part(A, B, bb), b.shape) : null];
};
