/**
 * Adaptor variants for the ablations of UniAS (what sits after each attention block), chosen by
 * kind from one factory. Parameter names follow the official modules where one exists.
 */
import { torchBiasInit, type GraphBuilder, type Initializer, type Sym } from '@unias/graph';
import { conv1x1, conv3x3, mggCnn, mggCnnLight } from './mgg-cnn.js';

/** torch.nn.Conv2d's default weight init (kaiming_uniform_ with a = sqrt(5)). */
const TORCH_CONV_WEIGHT: Initializer = { kind: 'kaimingUniform', a: Math.sqrt(5) };

export const ADAPTOR_KINDS = ['mgg-cnn', 'mgg-cnn-light', 'conv3x3x3', 'conv3x3', 'conv1x1', 'mlp', 'identity'] as const;

/**
 * - `mgg-cnn`: the paper's block (official `MGG_CNN`).
 * - `mgg-cnn-light`: the shared-trunk variant (official `MGG_CNNLight`; see `mggCnnLight`).
 * - `conv3x3x3`: three 3x3 convs, GELU after the last (official `Convx3Adaptor`, params `convs.0..2`).
 * - `conv3x3`, `conv1x1`: one conv (official `Conv3Adaptor` / `Conv1Adaptor`: `weight`, `bias`).
 * - `mlp`: two 1x1 convs with GELU between (`layers.0`, `layers.1`); the official `MLP` adaptor
 *   cannot be built from its config (it lacks `num_layers`), so this one is ours.
 * - `identity`: no adaptor (official `PlainAdaptor`); needs C_in = C_out.
 */
export type AdaptorKind = (typeof ADAPTOR_KINDS)[number];

export interface AdaptorOptions {
  /** Output channels. */
  readonly out: number;
  /** Width inside the block (`mgg-cnn`, `conv3x3x3`, `mlp`); default `out`. */
  readonly hidden?: number;
}

export interface Adaptor {
  readonly kind: AdaptorKind;
  readonly out: number;
  readonly hidden: number;
  /** Applies the adaptor to x [N, C_in, H, W]; parameters are named `<name>.<...>`. */
  apply(b: GraphBuilder, name: string, x: Sym): Sym;
}

export function isAdaptorKind(kind: string): kind is AdaptorKind {
  return (ADAPTOR_KINDS as readonly string[]).includes(kind);
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`adaptor ${what} must be a positive integer, got ${v}`);
  return v;
}

export function createAdaptor(kind: AdaptorKind, options: AdaptorOptions): Adaptor {
  if (!isAdaptorKind(kind)) {
    throw new Error(`unknown adaptor kind "${String(kind)}"; known: ${ADAPTOR_KINDS.join(', ')}`);
  }
  const out = positiveInt(options.out, 'out');
  const hidden = positiveInt(options.hidden ?? out, 'hidden');
  const apply = (b: GraphBuilder, name: string, x: Sym): Sym => {
    if (x.shape.length !== 4) throw new Error(`adaptor ${name}: expects [N,C,H,W], got [${x.shape.join(',')}]`);
    switch (kind) {
      case 'mgg-cnn':
        return mggCnn(b, name, x, { out, hidden });
      case 'mgg-cnn-light':
        return mggCnnLight(b, name, x, { out });
      case 'conv3x3x3':
        return b.within(name, () => b.within('convs', () => b.gelu(conv3x3(b, '2', conv3x3(b, '1', conv3x3(b, '0', x, hidden), hidden), out))));
      case 'conv3x3':
        return b.within(name, () => bareConv(b, x, out, 3));
      case 'conv1x1':
        return b.within(name, () => bareConv(b, x, out, 1));
      case 'mlp':
        return b.within(name, () => b.within('layers', () => conv1x1(b, '1', b.gelu(conv1x1(b, '0', x, hidden)), out)));
      case 'identity':
        if (x.shape[1] !== out) {
          throw new Error(`adaptor ${name}: identity needs input channels = output channels, got ${x.shape[1]} -> ${out}`);
        }
        return x;
    }
  };
  return { kind, out, hidden, apply };
}

/** A torch.nn.Conv2d registered directly as the adaptor (its params are `<name>.weight`, `<name>.bias`). */
function bareConv(b: GraphBuilder, x: Sym, out: number, k: number): Sym {
  const inC = x.shape[1]!;
  const w = b.param('weight', [out, inC, k, k], TORCH_CONV_WEIGHT);
  const bias = b.param('bias', [out], torchBiasInit(inC * k * k));
  return b.conv2d(x, w, bias, { padding: (k - 1) / 2 });
}
