/** Frozen layers with PyTorch parameter names, shared by the backbones. */
import { batchNormLayer, conv2dLayer, linearLayer, type GraphBuilder, type Padding, type Sym } from '@unias/graph';

export interface FrozenConvOptions {
  out: number;
  kernel: number;
  stride?: number;
  padding?: Padding;
  groups?: number;
  /** Default false: backbone convolutions followed by batch-norm have no bias. */
  bias?: boolean;
}

/** `<name>.weight` [out, in/groups, k, k] (and `<name>.bias`), not trainable. */
export function frozenConv(b: GraphBuilder, name: string, x: Sym, o: FrozenConvOptions): Sym {
  return conv2dLayer(b, name, x, {
    out: o.out,
    kernel: o.kernel,
    stride: o.stride ?? 1,
    padding: o.padding ?? 'valid',
    groups: o.groups ?? 1,
    bias: o.bias ?? false,
    trainable: false,
  });
}

/** Inference-mode batch-norm: `<name>.weight`, `.bias`, `.running_mean`, `.running_var`, all frozen. */
export function frozenBatchNorm(b: GraphBuilder, name: string, x: Sym, eps: number): Sym {
  return batchNormLayer(b, name, x, eps, false);
}

/** `<name>.weight` [out, in], `<name>.bias` [out], frozen. */
export function frozenLinear(b: GraphBuilder, name: string, x: Sym, out: number): Sym {
  return linearLayer(b, name, x, { out, trainable: false });
}

/** Global average pool and flatten: [N, C, H, W] -> [N, C]. */
export function poolFlatten(b: GraphBuilder, x: Sym): Sym {
  return b.reshape(b.globalAvgPool(x), [0, -1]);
}
