/**
 * The multi-granularity gated CNN (MGG-CNN) of UniAS and its light variant, with the official
 * module's parameter names (`conv0`, `conv1`, `conv2.0/.1`, `conv3.0/.1/.2`).
 */
import { conv2dLayer, type GraphBuilder, type Initializer, type Sym } from '@unias/graph';

/** The official adaptors re-initialise every weight with xavier_uniform_ (biases keep torch's default). */
export const XAVIER: Initializer = { kind: 'xavierUniform', gain: 1 };

export interface MggCnnOptions {
  /** Output channels (C_out). */
  readonly out: number;
  /** Width inside the two deeper branches (the official `hidden_dim`). */
  readonly hidden: number;
}

/** A 3x3 'same' convolution with bias and xavier weights. */
export function conv3x3(b: GraphBuilder, name: string, x: Sym, out: number): Sym {
  return conv2dLayer(b, name, x, { out, kernel: 3, padding: 1, weightInit: XAVIER });
}

/** A 1x1 convolution with bias and xavier weights. */
export function conv1x1(b: GraphBuilder, name: string, x: Sym, out: number): Sym {
  return conv2dLayer(b, name, x, { out, kernel: 1, weightInit: XAVIER });
}

/**
 * Four parallel branches on the same input with receptive fields 1, 3, 5 and 7, each ending in
 * exact GELU, summed:
 * `GELU(conv1x1 x) + GELU(conv3x3 x) + GELU(conv3x3 conv3x3 x) + GELU(conv3x3 conv3x3 conv3x3 x)`.
 * `conv0`, `conv1`: C_in -> C_out; `conv2`: C_in -> hidden -> C_out; `conv3`: C_in -> hidden -> hidden -> C_out.
 * No activation inside a branch (as the official code).
 */
export function mggCnn(b: GraphBuilder, name: string, x: Sym, o: MggCnnOptions): Sym {
  return b.within(name, () => {
    const branch0 = b.gelu(conv1x1(b, 'conv0', x, o.out));
    const branch1 = b.gelu(conv3x3(b, 'conv1', x, o.out));
    const branch2 = b.within('conv2', () => b.gelu(conv3x3(b, '1', conv3x3(b, '0', x, o.hidden), o.out)));
    const branch3 = b.within('conv3', () => {
      const h = conv3x3(b, '1', conv3x3(b, '0', x, o.hidden), o.hidden);
      return b.gelu(conv3x3(b, '2', h, o.out));
    });
    return b.add(b.add(branch0, branch1), b.add(branch2, branch3));
  });
}

/**
 * The light variant, as the official `MGG_CNNLight`: the deeper branches reuse the shallower
 * ones' convolutions instead of owning their own, so the receptive fields stay 1, 3, 5, 7 with
 * one 1x1 and three 3x3 convolutions (C_in -> C_out, then C_out -> C_out twice) instead of one
 * 1x1 and six 3x3:
 * `GELU(c0 x) + GELU(c1 x) + GELU(c2 c1 x) + GELU(c3 c2 c1 x)`.
 * At equal widths that is about half the multiply-adds and parameters of the full block.
 */
export function mggCnnLight(b: GraphBuilder, name: string, x: Sym, o: { readonly out: number }): Sym {
  return b.within(name, () => {
    const c1 = conv3x3(b, 'conv1', x, o.out);
    const c2 = conv3x3(b, 'conv2', c1, o.out);
    const c3 = conv3x3(b, 'conv3', c2, o.out);
    const branch0 = b.gelu(conv1x1(b, 'conv0', x, o.out));
    return b.add(b.add(branch0, b.gelu(c1)), b.add(b.gelu(c2), b.gelu(c3)));
  });
}
