/**
 * Gradients of matmul, convolutions, pooling and bilinear resize, written so that the heavy part
 * of each is one GEMM or one (transposed) convolution on the backend.
 */
import type { Sym } from '../graph.js';
import type { Conv2dAttrs, Pads2d, Pair } from '../ops/attrs.js';
import { sizeOf } from '../tensor-data.js';
import type { GradOps } from './grad-ops.js';
import type { GradRule, InputGrads } from './rule-types.js';

/**
 * matmul: da = dy b^T, db = a^T dy, summed over broadcast batch dims. When b has no batch dims
 * (x @ W of a linear layer), a's batch is folded into its rows so db is one [k, m'] x [m', n] GEMM
 * instead of a batched one followed by a sum.
 */
export const matmul: GradRule<'matmul'> = ({ g, dy, node, needs }) => {
  const [a, b] = node.inputs as [Sym, Sym];
  const out: Array<Sym | null> = [null, null];
  if (needs[0]) out[0] = g.unbroadcast(g.matmul(dy, g.transposeLast2(b)), a.shape);
  if (needs[1]) {
    const k = a.shape[a.shape.length - 1]!;
    const n = dy.shape[dy.shape.length - 1]!;
    if (b.shape.length === 2 && a.shape.length > 2) {
      const rows = sizeOf(a.shape) / k;
      out[1] = g.matmul(g.transposeLast2(g.reshape(a, [rows, k])), g.reshape(dy, [rows, n]));
    } else {
      out[1] = g.unbroadcast(g.matmul(g.transposeLast2(a), dy), b.shape);
    }
  }
  return out;
};

export interface WindowGeometry {
  readonly kernel: Pair;
  readonly strides: Pair;
  readonly dilations: Pair;
  /** Padding of `src` at the top and left. */
  readonly padTopLeft: Pair;
  readonly groups: number;
}

/**
 * The weight gradient of a convolution (the correlation of A with the windows of src):
 *
 *   W[a, c, i, j] = sum_{n,p,q} A[n, a, p, q] * S[n, group(a) * Cs/g + c, p*sh + i*dh - pt, q*sw + j*dw - pl]
 *
 * (S read as 0 outside). `A` is [N, Ca, P, Q], `src` is [N, Cs, H, W]; the result is
 * [Ca, Cs/groups, kh, kw]. For conv2d, A = dy and S = x; for convTranspose2d, A = x and S = dy.
 * ONNX has no strided views, so every shifted window is a copy: the three formulations below
 * differ in how many bytes they copy before the one GEMM that does the arithmetic.
 */
export function windowCorrelation(g: GradOps, A: Sym, src: Sym, geo: WindowGeometry): Sym {
  const stride1 = geo.groups === 1 && geo.strides[0] === 1 && geo.strides[1] === 1;
  if (stride1 && weightOutweighsMaps(A, src, geo)) return im2colCorrelation(g, A, src, geo, true);
  if (stride1 && A.shape[2]! >= 2 * (geo.kernel[0] - 1) * geo.dilations[0]) return shiftedProducts(g, A, src, geo);
  if (tilesExactly(A, src, geo)) return patchCorrelation(g, A, src, geo);
  return im2colCorrelation(g, A, src, geo);
}

/**
 * Many channels on few pixels (kh*kw*Ca*Cs >= N*P*Q*(Ca + Cs): 256 channels at 14x14 or 28x28 for
 * one image): the weight-sized move that ends shiftedProducts costs more than copying kh*kw planes
 * of src, so the windows are stacked per source channel instead and the GEMM writes the weight in
 * place. The paper preset's step at batch 1 against shifted products (bench/ab-step.ts): 0.965x
 * and 0.986x; taking 56x56 too was slower (1.03x), and so was 14x14 for 8 images alone
 * (bench/wgrad-cm.ts).
 */
function weightOutweighsMaps(A: Sym, src: Sym, geo: WindowGeometry): boolean {
  const [N, Ca, P, Q] = A.shape as [number, number, number, number];
  const Cs = src.shape[1]!;
  return geo.kernel[0] * geo.kernel[1] * Ca * Cs >= N * P * Q * (Ca + Cs);
}

/**
 * Stride 1, one group: the row offsets shift A (kh zero-padded copies) and the column offsets
 * shift src (kw copies); one batched GEMM over the rows then gives all kh*kw blocks at once, and
 * nothing but them. It copies kh*Ca + kw*Cs planes where im2col copies kh*kw*Cs twice (slices,
 * then their concat) plus two transposes: at 32 channels and 128x128 it does 0.6x the work of
 * im2col (bench/wgrad-shapes.ts), at 256 channels and 28-56 pixels the same. Summing R = P +
 * (kh-1)*dh rows instead of P costs (kh-1)*dh/P extra GEMM work, hence the rule P >= 2*(kh-1)*dh
 * in the caller.
 *
 * Per image, both operands are flat rows of one length L: src padded to R x Qp (Qp = Q +
 * (kw-1)*dw) and read row-major, so that the window at column offset j*dw is the same row read
 * j*dw values later, and A widened to Qp columns with zeros, so that the values a shifted read
 * carries past a row's end meet zeros. Every set of copies is then one Concat (shiftedCopies),
 * where kw column windows were kw Slices, which ORT runs on one thread, and their Concat: the
 * `cpu` step at 224x224, batch 8, spends 0.964x the kernel time (Slice -13.6 ms, Concat +4.7),
 * the paper step at batch 1 0.976x (bench/ab-step.ts). The copies are stacked inside each channel
 * (rows (a, i) and (c, j)), so the GEMM gives [Ca, kh, Cs, kw] and the last move is of weight size.
 */
function shiftedProducts(g: GradOps, A: Sym, src: Sym, geo: WindowGeometry): Sym {
  const [N, Ca, P, Q] = A.shape as [number, number, number, number];
  const [, Cs, H, W] = src.shape as [number, number, number, number];
  const [kh, kw] = geo.kernel;
  const [dh, dw] = geo.dilations;
  const [pt, pl] = geo.padTopLeft;
  const R = P + (kh - 1) * dh;
  const needW = Q + (kw - 1) * dw;
  // One GEMM per image writes N blocks [kh*Ca, kw*Cs] to sum: where they outweigh the shifted maps
  // (many channels, few pixels: 256 channels at 14x14) the images go into the GEMM's rows instead,
  // channels first (two transposes of the operands).
  const channelsFirst = N > 1 && kh * Ca * kw * Cs > (kh * Ca + kw * Cs) * R * Q;
  // at stride 1 the padded map is exactly R x needW
  const [pb, pr] = [R - pt - H, needW - pl - W];
  if (pb < 0 || pr < 0) throw new Error(`shiftedProducts: pads [${pt}, ${pl}, ${pb}, ${pr}] do not give a stride-1 window`);
  if (channelsFirst) {
    // src padded so that row r of every shifted copy is source row r - pt
    const padded = g.pad(g.transpose(src, [1, 0, 2, 3]), [0, 0, pt, pl, 0, 0, pb, pr]);
    // row copies concatenated on the axis after the channels ([Ca, kh*N, R, Q]): rows (a, i)
    const a = g.transpose(A, [1, 0, 2, 3]);
    const columns: Sym[] = [];
    for (let j = 0; j < kw; j++) columns.push(g.sliceAxes(padded, [3], [j * dw], [j * dw + Q], [1]));
    const rows: Sym[] = [];
    for (let i = 0; i < kh; i++) rows.push(g.pad(a, [0, 0, i * dh, 0, 0, 0, (kh - 1 - i) * dh, 0]));
    const X = g.reshape(g.concat(columns, 0), [kw * Cs, N * R * Q]);
    const D = g.reshape(g.concat(rows, 1), [Ca * kh, N * R * Q]);
    const blocks = g.matmul(D, g.transposeLast2(X)); // [Ca*kh, kw*Cs]
    // [Ca, kh*kw, Cs] -> [Ca, Cs, kh*kw]
    return g.reshape(g.transpose(g.reshape(blocks, [Ca, kh * kw, Cs]), [0, 2, 1]), [Ca, Cs, kh, kw]);
  }
  // The padded map read row-major is src with needW - W zero columns after each row, preceded by
  // pt rows and pl values of zeros: the zero columns are one Concat (all threads; Pad runs on one)
  // and the leading zeros part of the copies' Concat: Pad -9.1 ms, Concat +4.8 ms of kernel time
  // in the `cpu` step at 224x224, batch 8 (bench/ab-step.ts). Values past R rows (bottom pads
  // shorter than pl) only ever meet zeros of D.
  const rows = needW === W ? src : g.concat([src, g.zeros([N, Cs, H, needW - W])], 3);
  const lead = pt * needW + pl;
  // a row: the padded map, and the dw values that the last column window reads past it
  const L = Math.max(R * needW, lead + H * needW) + (kw > 1 ? dw : 0);
  const X = shiftedCopies(g, g.reshape(rows, [N, Cs, H * needW]), kw, -dw, L, lead); // rows (c, j)
  const wide = needW === Q ? A : g.concat([A, g.zeros([N, Ca, P, needW - Q])], 3);
  const D = shiftedCopies(g, g.reshape(wide, [N, Ca, P * needW]), kh, dh * needW, L); // rows (a, i)
  const perImage = g.matmul(D, g.transposeLast2(X)); // [N, Ca*kh, Cs*kw]
  const blocks = N === 1 ? g.reshape(perImage, [Ca * kh, Cs * kw]) : g.reduceSum(perImage, [0], false);
  return g.transpose(g.reshape(blocks, [Ca, kh, Cs, kw]), [0, 2, 1, 3]);
}

/**
 * `count` copies of the rows of x [N, C, n], each read as `lead` zeros and then x, copy k shifted
 * by k*shift values (later for a positive shift, with zeros before it; earlier for a negative one,
 * its first k*|shift| values dropped), as rows of `length` values: [N, C*count, length], rows
 * (c, k). Where a copy ends before its row does, the row goes on with zeros or with the next
 * copy's first values, so a reader must multiply those by zeros. The copies meet in ONE Concat
 * [Z0, x, Z, x, ..., x, Z'] (Z0: the lead; each Z: a gap and the next lead): ORT runs Concat on
 * all threads and Pad and Slice on one (kh Pads for the row copies took 9.9 ms of the `cpu` step's
 * ~330 ms of kernels at 224x224, batch 8).
 */
function shiftedCopies(g: GradOps, x: Sym, count: number, shift: number, length: number, lead = 0): Sym {
  const [N, C, n] = x.shape as [number, number, number];
  const gap = length + shift - lead - n;
  const tail = length - (count - 1) * shift - lead - n;
  if ((count > 1 && gap < 0) || tail < 0)
    throw new Error(`shiftedCopies: ${count} copies of ${lead} + ${n} values shifted by ${shift} do not fit rows of ${length}`);
  const parts: Sym[] = [];
  const zeros = (k: number) => {
    if (k > 0) parts.push(g.zeros([N, C, k]));
  };
  zeros(lead);
  parts.push(x);
  for (let k = 1; k < count; k++) {
    zeros(gap + lead);
    parts.push(x);
  }
  zeros(tail);
  return g.reshape(parts.length === 1 ? x : g.concat(parts, 2), [N, C * count, length]);
}

/** Non-overlapping windows that cover src exactly (a patch embedding: kernel = stride, no pads). */
function tilesExactly(A: Sym, src: Sym, geo: WindowGeometry): boolean {
  const [kh, kw] = geo.kernel;
  return (
    geo.groups === 1 &&
    geo.strides[0] === kh &&
    geo.strides[1] === kw &&
    geo.dilations[0] === 1 &&
    geo.dilations[1] === 1 &&
    geo.padTopLeft[0] === 0 &&
    geo.padTopLeft[1] === 0 &&
    A.shape[2]! * kh === src.shape[2] &&
    A.shape[3]! * kw === src.shape[3]
  );
}

/**
 * Kernel = stride: the windows are a space-to-depth of src ([N, kw*Cs*kh, P*Q], two transposes)
 * instead of kh*kw strided slices and their concat; one batched GEMM, a sum over images, and a
 * move of kw in the weight-sized result.
 */
function patchCorrelation(g: GradOps, A: Sym, src: Sym, geo: WindowGeometry): Sym {
  const [N, Ca, P, Q] = A.shape as [number, number, number, number];
  const Cs = src.shape[1]!;
  const [kh, kw] = geo.kernel;
  // [N, Cs, P, kh, Q, kw] -> [N, kw, Cs, kh, P, Q] as two moves of one axis each (ORT copies
  // whole rows for the first; one 6-D transpose goes element by element: 1.4-4x the CPU time in
  // bench/s2d-variants.ts). kw goes out of each whole image ([N, Cs*kh*P*Q, kw] -> [N, kw, ..]):
  // 4-6x cheaper than out of each row of patches ([N*Cs*kh, P*Q, kw]; bench/wgrad-layout.ts).
  const rowsFirst = g.transpose(g.reshape(src, [N * Cs, P, kh, Q * kw]), [0, 2, 1, 3]); // [N*Cs, kh, P, Q*kw]
  const patches = g.reshape(g.transpose(g.reshape(rowsFirst, [N, Cs * kh * P * Q, kw]), [0, 2, 1]), [N, kw * Cs * kh, P * Q]);
  const perImage = g.matmul(g.reshape(A, [N, Ca, P * Q]), g.transposeLast2(patches)); // [N, Ca, kw*Cs*kh]
  const w = N === 1 ? g.reshape(perImage, [Ca, kw * Cs * kh]) : g.reduceSum(perImage, [0], false);
  // [Ca, kw, Cs*kh] -> [Ca, Cs*kh, kw]
  return g.reshape(g.transpose(g.reshape(w, [Ca, kw, Cs * kh]), [0, 2, 1]), [Ca, Cs, kh, kw]);
}

/**
 * Any stride and groups: im2col. The source goes channels-first ([Cs, N, H, W], a cheap copy of
 * whole planes) and is padded; each of the kh*kw window offsets is one strided slice [Cs, N, P, Q],
 * and their concat along axis 0 (whole contiguous slabs) is the im2col matrix [kh*kw*Cs, N*P*Q].
 * One GEMM with it transposed (ORT fuses the transpose into the GEMM) gives every weight.
 * `channelMajor` (one group) concatenates the slices per source channel instead ([Cs, kh*kw, ..],
 * runs of N*P*Q floats), so the GEMM's result is already [Ca, Cs, kh, kw] and no move follows.
 */
function im2colCorrelation(g: GradOps, A: Sym, src: Sym, geo: WindowGeometry, channelMajor = false): Sym {
  const [N, Ca, P, Q] = A.shape as [number, number, number, number];
  const [, Cs, H, W] = src.shape as [number, number, number, number];
  const [kh, kw] = geo.kernel;
  const [sh, sw] = geo.strides;
  const [dh, dw] = geo.dilations;
  const [pt, pl] = geo.padTopLeft;
  const G = geo.groups;
  const cs = Cs / G;
  const ca = Ca / G;
  const K = kh * kw;
  const rows = N * P * Q;
  // [Cs, N, H, W], or grouped [G, Cs/G, N, H, W]
  // (one image: the same bytes, so a reshape)
  const channelsFirst = N === 1 ? g.reshape(src, [Cs, 1, H, W]) : g.transpose(src, [1, 0, 2, 3]);
  const first = G === 1 ? channelsFirst : g.reshape(channelsFirst, [G, cs, N, H, W]);
  const hAxis = first.shape.length - 2;
  const needH = (P - 1) * sh + (kh - 1) * dh + 1;
  const needW = (Q - 1) * sw + (kw - 1) * dw + 1;
  const r = first.shape.length;
  const pads = new Array<number>(2 * r).fill(0);
  pads[hAxis] = pt;
  pads[hAxis + 1] = pl;
  pads[hAxis + r] = Math.max(0, needH - pt - H);
  pads[hAxis + 1 + r] = Math.max(0, needW - pl - W);
  const padded = g.pad(first, pads);
  const patches: Sym[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const top = i * dh;
      const left = j * dw;
      patches.push(g.sliceAxes(padded, [hAxis, hAxis + 1], [top, left], [top + (P - 1) * sh + 1, left + (Q - 1) * sw + 1], [sh, sw]));
    }
  const channelsFirstA = N === 1 ? g.reshape(A, [Ca, 1, P, Q]) : g.transpose(A, [1, 0, 2, 3]); // [Ca, N, P, Q]
  if (G === 1) {
    const cols = channelMajor
      ? g.reshape(
          g.concat(
            patches.map((p) => g.reshape(p, [Cs, 1, rows])),
            1,
          ),
          [Cs * K, rows],
        )
      : g.reshape(g.concat(patches, 0), [K * Cs, rows]);
    const w2 = g.matmul(g.reshape(channelsFirstA, [Ca, rows]), g.transposeLast2(cols));
    return channelMajor ? g.reshape(w2, [Ca, Cs, kh, kw]) : g.transpose(g.reshape(w2, [Ca, kh, kw, Cs]), [0, 3, 1, 2]);
  }
  const cols = g.reshape(g.concat(patches, 1), [G, K * cs, rows]);
  const w3 = g.matmul(g.reshape(channelsFirstA, [G, ca, rows]), g.transposeLast2(cols));
  return g.transpose(g.reshape(w3, [Ca, kh, kw, cs]), [0, 3, 1, 2]);
}

/** Size of a transposed convolution's output before output padding. */
function transposedSize(inSize: number, k: number, s: number, d: number, padBegin: number, padEnd: number): number {
  return (inSize - 1) * s - padBegin - padEnd + d * (k - 1) + 1;
}

/** The weight of the convolution that is the adjoint of a stride-1 conv: [Ci, Co/g, kh, kw], channels swapped per group, kernel flipped. */
function adjointWeight(g: GradOps, w: Sym, groups: number): Sym {
  const [Co, cig, kh, kw] = w.shape as [number, number, number, number];
  const cog = Co / groups;
  const swapped =
    groups === 1
      ? g.transpose(w, [1, 0, 2, 3])
      : g.reshape(g.transpose(g.reshape(w, [groups, cog, cig, kh, kw]), [0, 2, 1, 3, 4]), [groups * cig, cog, kh, kw]);
  const K = kh * kw;
  if (K === 1) return swapped;
  // flipping both spatial axes reverses the flattened kh*kw axis: a product with the K x K
  // reversal permutation (exact: one-hot rows)
  const reversal = new Float64Array(K * K);
  for (let k = 0; k < K; k++) reversal[k * K + (K - 1 - k)] = 1;
  const flipped = g.matmul(g.reshape(swapped, [groups * cig * cog, K]), g.constant(reversal, [K, K]));
  return g.reshape(flipped, [groups * cig, cog, kh, kw]);
}

/**
 * dx of conv2d. At stride 1 it is itself a convolution of dy with the flipped, channel-swapped
 * weight and complementary pads (d(k-1) - p): ONNX Runtime runs Conv markedly faster than
 * ConvTranspose (those of few channels with its blocked NCHWc kernels on the CPU provider).
 * Otherwise it is convTranspose2d of dy with the same weight (its [Co, Ci/g, kh, kw] layout is
 * exactly ConvTranspose's [C_in, C_out/g, kh, kw]), output padding restoring the rows the forward
 * stride left over.
 */
function conv2dInputGrad(g: GradOps, dy: Sym, w: Sym, x: Sym, a: Conv2dAttrs): Sym {
  const { strides, pads, dilations, groups } = a;
  const [kh, kw] = [w.shape[2]!, w.shape[3]!];
  const spanH = dilations[0] * (kh - 1);
  const spanW = dilations[1] * (kw - 1);
  if (strides[0] === 1 && strides[1] === 1 && pads[0] <= spanH && pads[2] <= spanH && pads[1] <= spanW && pads[3] <= spanW) {
    const adjointPads: Pads2d = [spanH - pads[0], spanW - pads[1], spanH - pads[2], spanW - pads[3]];
    return g.conv2d(dy, adjointWeight(g, w, groups), { strides: [1, 1], pads: adjointPads, dilations, groups });
  }
  const oh = transposedSize(dy.shape[2]!, kh, strides[0], dilations[0], pads[0], pads[2]);
  const ow = transposedSize(dy.shape[3]!, kw, strides[1], dilations[1], pads[1], pads[3]);
  return g.convTranspose2d(dy, w, { strides, pads, dilations, groups, outputPadding: [x.shape[2]! - oh, x.shape[3]! - ow] });
}

/** conv2d: dx by conv2dInputGrad; dw is the im2col correlation of dy with x; dbias sums dy. */
export const conv2d: GradRule<'conv2d'> = ({ g, dy, node, needs }): InputGrads => {
  const [x, w] = node.inputs as [Sym, Sym];
  const { strides, pads, dilations, groups } = node.attrs;
  const [kh, kw] = [w.shape[2]!, w.shape[3]!];
  const out: Array<Sym | null> = [null, null, null];
  if (needs[0]) out[0] = conv2dInputGrad(g, dy, w, x, node.attrs);
  if (needs[1]) {
    out[1] = windowCorrelation(g, dy, x, { kernel: [kh, kw], strides, dilations, padTopLeft: [pads[0], pads[1]], groups });
  }
  if (needs[2]) out[2] = g.reduceSum(dy, [0, 2, 3], false);
  return out;
};

/**
 * convTranspose2d: dx is conv2d of dy with the same weight (sliced if output padding made the
 * result one window longer); dw is the correlation of x with dy; dbias sums dy.
 */
export const convTranspose2d: GradRule<'convTranspose2d'> = ({ g, dy, node, needs }): InputGrads => {
  const [x, w] = node.inputs as [Sym, Sym];
  const { strides, pads, dilations, groups } = node.attrs;
  const [kh, kw] = [w.shape[2]!, w.shape[3]!];
  const out: Array<Sym | null> = [null, null, null];
  if (needs[0]) {
    let dx = g.conv2d(dy, w, { strides, pads, dilations, groups });
    dx = g.sliceAxes(dx, [2, 3], [0, 0], [x.shape[2]!, x.shape[3]!], [1, 1]);
    out[0] = dx;
  }
  if (needs[1]) {
    out[1] = windowCorrelation(g, x, dy, { kernel: [kh, kw], strides, dilations, padTopLeft: [pads[0], pads[1]], groups });
  }
  if (needs[2]) out[2] = g.reduceSum(dy, [0, 2, 3], false);
  return out;
};

/** Scatters per-window values back onto the input grid: a transposed conv per channel plane. */
function scatterWindows(g: GradOps, planes: Sym, kernelWeights: Sym, x: Sym, kernel: Pair, strides: Pair, pads: Pads2d): Sym {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, , P, Q] = planes.shape as [number, number, number, number];
  const oh = transposedSize(P, kernel[0], strides[0], 1, pads[0], pads[2]);
  const ow = transposedSize(Q, kernel[1], strides[1], 1, pads[1], pads[3]);
  const out = g.convTranspose2d(planes, kernelWeights, {
    strides,
    pads,
    dilations: [1, 1],
    groups: 1,
    outputPadding: [H - oh, W - ow],
  });
  return g.reshape(out, [N, C, H, W]);
}

/** How many in-bounds input pixels each window covers (PyTorch's count_include_pad=False divisor). */
function windowCounts(size: number, out: number, k: number, s: number, padBegin: number): number[] {
  return Array.from({ length: out }, (_, o) => {
    const start = o * s - padBegin;
    return Math.min(start + k, size) - Math.max(start, 0);
  });
}

/**
 * avgPool2d: every window spreads dy / divisor evenly over its pixels: a transposed conv of each
 * channel plane with a constant kernel of ones. The divisor is kh*kw, or (count_include_pad false)
 * the in-bounds count of each window, applied to dy first as a constant [P, Q] map.
 */
export const avgPool2d: GradRule<'avgPool2d'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const { kernel, strides, pads, countIncludePad } = node.attrs;
  const [N, C, P, Q] = dy.shape as [number, number, number, number];
  let scaled: Sym;
  if (countIncludePad) scaled = g.mul(dy, 1 / (kernel[0] * kernel[1]));
  else {
    const rows = windowCounts(x.shape[2]!, P, kernel[0], strides[0], pads[0]);
    const cols = windowCounts(x.shape[3]!, Q, kernel[1], strides[1], pads[1]);
    const inv = new Float64Array(P * Q);
    for (let p = 0; p < P; p++) for (let q = 0; q < Q; q++) inv[p * Q + q] = 1 / (rows[p]! * cols[q]!);
    scaled = g.mul(dy, g.constant(inv, [P, Q]));
  }
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  if (strides[0] === kernel[0] && strides[1] === kernel[1] && pads.every((p) => p === 0) && H === P * kernel[0] && W === Q * kernel[1]) {
    // Windows tile the input exactly: the adjoint is a nearest-neighbour upsample, Eh^T dy Ew with
    // fixed 0/1 block matrices (two small GEMMs; a 6-D broadcast is slow on ORT and tfjs alike).
    const block = (out: number, k: number) => {
      const e = new Float64Array(out * out * k);
      for (let o = 0; o < out; o++) for (let i = 0; i < k; i++) e[o * out * k + o * k + i] = 1;
      return e;
    };
    const ehT = new Float64Array(H * P);
    const eh = block(P, kernel[0]); // [P, H]
    for (let p = 0; p < P; p++) for (let h = 0; h < H; h++) ehT[h * P + p] = eh[p * H + h]!;
    return [g.matmul(g.matmul(g.constant(ehT, [H, P]), scaled), g.constant(block(Q, kernel[1]), [Q, W]))];
  }
  const planes = g.reshape(scaled, [N * C, 1, P, Q]);
  const ones = g.constant(new Float64Array(kernel[0] * kernel[1]).fill(1), [1, 1, kernel[0], kernel[1]]);
  return [scatterWindows(g, planes, ones, x, kernel, strides, pads)];
};

/**
 * maxPool2d routes dy to the first maximum of each window in row-major window order (PyTorch's
 * CPU kernel keeps the first of equal maxima). Window offset (i, j) is a strided slice of x padded
 * with -inf; `taken` marks windows already routed, so only the first equal offset wins. The
 * routed values, stacked as kh*kw channels, are scattered back by one transposed conv whose kernel
 * is a one-hot per channel.
 */
export const maxPool2d: GradRule<'maxPool2d'> = ({ g, dy, y, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const { kernel, strides, pads } = node.attrs;
  const [N, C, P, Q] = dy.shape as [number, number, number, number];
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  const [kh, kw] = kernel;
  const needH = (P - 1) * strides[0] + kh;
  const needW = (Q - 1) * strides[1] + kw;
  const padded = g.pad(x, [0, 0, pads[0], pads[1], 0, 0, Math.max(0, needH - pads[0] - H), Math.max(0, needW - pads[1] - W)], 'constant', -Infinity);
  const routed: Sym[] = [];
  let taken: Sym | null = null;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const window = g.sliceAxes(padded, [2, 3], [i, j], [i + (P - 1) * strides[0] + 1, j + (Q - 1) * strides[1] + 1], strides);
      const hit = g.cast(g.equal(window, y), 'float32');
      const first: Sym = taken ? g.mul(hit, g.sub(1, taken)) : hit;
      taken = taken ? g.add(taken, first) : first;
      routed.push(g.reshape(g.mul(dy, first), [N * C, 1, P, Q]));
    }
  const oneHot = new Float64Array(kh * kw * kh * kw);
  for (let k = 0; k < kh * kw; k++) oneHot[k * kh * kw + k] = 1;
  const weights = g.constant(oneHot, [kh * kw, 1, kh, kw]);
  return [scatterWindows(g, g.concat(routed, 1), weights, x, kernel, strides, pads)];
};

/**
 * The 1-D bilinear interpolation matrix R [out, in] of PyTorch's F.interpolate(mode='bilinear'):
 * align_corners maps corner pixels onto each other; otherwise half-pixel centres with the source
 * clamped at 0 (scale = in / out).
 */
export function interpolationMatrix(inSize: number, outSize: number, alignCorners: boolean): Float64Array {
  const r = new Float64Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    let src: number;
    if (alignCorners) src = outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0;
    else src = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const t = src - i0;
    r[o * inSize + i0]! += 1 - t;
    r[o * inSize + i1]! += t;
  }
  return r;
}

/** resizeBilinear is y = Rh x Rw^T per plane, so dx = Rh^T dy Rw with fixed matrices. */
export const resizeBilinear: GradRule<'resizeBilinear'> = ({ g, dy, node, needs }) => {
  if (!needs[0]) return [];
  const x = node.inputs[0]!;
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  const [OH, OW] = node.attrs.size;
  const rh = interpolationMatrix(H, OH, node.attrs.alignCorners);
  const rhT = new Float64Array(H * OH);
  for (let o = 0; o < OH; o++) for (let i = 0; i < H; i++) rhT[i * OH + o] = rh[o * H + i]!;
  const rw = interpolationMatrix(W, OW, node.attrs.alignCorners);
  const rows = H === OH ? dy : g.matmul(g.constant(rhT, [H, OH]), dy);
  return [OW === W ? rows : g.matmul(rows, g.constant(rw, [OW, W]))];
};
