/**
 * The backbone contract: a frozen feature extractor that names its feature maps ("taps"), says
 * their channels and strides, and builds them onto a graph from a normalised image.
 */
import type { GraphBuilder, Sym, TensorData } from '@unias/graph';

export interface TapSpec {
  /** Name used in `build({ taps })` and as the key of its result. */
  readonly name: string;
  readonly channels: number;
  /** Nominal downsampling factor: an input of H x W gives ceil(H / stride) x ceil(W / stride). */
  readonly stride: number;
  /** Where in the network the tap is taken (layer names of the weights' layout). */
  readonly description: string;
}

/**
 * How to normalise an RGB image with values in [0, 1] (NCHW) before `build`:
 * `(x - mean[c]) / std[c]` per channel.
 */
export interface InputNormalization {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

export const IMAGENET_NORMALIZATION: InputNormalization = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

export interface BackboneBuildOptions {
  /** Taps to return (default: the backbone's `defaultTaps`). */
  readonly taps?: readonly string[];
}

export interface DefaultWeightsOptions {
  /** Where converted weights are cached (default `node_modules/.cache/unias` under the working directory). */
  readonly cacheDir?: string;
  /** Called with progress messages during a first conversion. */
  readonly onProgress?: (message: string) => void;
}

/** Pretrained weights that ship with an npm dependency (no download beyond npm). */
export interface DefaultWeights {
  /** Where they come from and under which licence. */
  readonly source: string;
  /** The taps these weights are valid for (some weights cover only part of the network). */
  readonly validTaps: readonly string[];
  load(options?: DefaultWeightsOptions): Promise<Map<string, TensorData<'float32'>>>;
}

export interface Backbone {
  readonly id: string;
  readonly description: string;
  readonly taps: readonly TapSpec[];
  /** The four taps UniAS uses, strides 2 / 4 / 8 / 16, named res1..res4. */
  readonly defaultTaps: readonly string[];
  /** Resolution the weights were trained at; fixed ("static") padding is computed for it. */
  readonly nativeResolution?: number;
  readonly inputNormalization: InputNormalization;
  /** The key layout of the parameter names (e.g. "efficientnet_pytorch", "torchvision", "keras"). */
  readonly weightLayout: string;
  readonly defaultWeights?: DefaultWeights;
  /**
   * Builds the whole network (every parameter, frozen, under the caller's scope, with the weight
   * layout's names, classifier included) from `image` ([N, 3, H, W], normalised as
   * `inputNormalization` says) and returns the requested taps. What the taps do not use is pruned
   * away when the graph is pruned to its outputs.
   */
  build(b: GraphBuilder, image: Sym, options?: BackboneBuildOptions): Record<string, Sym>;
}

/** The requested taps, checked against the backbone's: an unknown one is an error listing the valid ones. */
export function resolveTaps(backbone: Pick<Backbone, 'id' | 'taps' | 'defaultTaps'>, taps?: readonly string[]): string[] {
  const wanted = taps ?? backbone.defaultTaps;
  if (wanted.length === 0) throw new Error(`backbone "${backbone.id}": no taps requested`);
  const known = new Set(backbone.taps.map((t) => t.name));
  const unknown = wanted.filter((t) => !known.has(t));
  if (unknown.length > 0) {
    throw new Error(
      `backbone "${backbone.id}": unknown tap${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')}; ` +
        `valid taps: ${[...known].join(', ')}`,
    );
  }
  return [...new Set(wanted)];
}

export function tapSpec(backbone: Pick<Backbone, 'id' | 'taps'>, name: string): TapSpec {
  const t = backbone.taps.find((s) => s.name === name);
  if (!t) throw new Error(`backbone "${backbone.id}": unknown tap "${name}"; valid taps: ${backbone.taps.map((s) => s.name).join(', ')}`);
  return t;
}

/** Picks the requested taps out of every named feature map a build produced. */
export function pickTaps(
  backbone: Pick<Backbone, 'id' | 'taps' | 'defaultTaps'>,
  all: ReadonlyMap<string, Sym>,
  taps?: readonly string[],
): Record<string, Sym> {
  const out: Record<string, Sym> = {};
  for (const name of resolveTaps(backbone, taps)) {
    const s = all.get(name);
    if (!s) throw new Error(`backbone "${backbone.id}": tap "${name}" was not produced by build (internal error)`);
    out[name] = s;
  }
  return out;
}

export function checkImage(id: string, image: Sym): void {
  if (image.shape.length !== 4 || image.shape[1] !== 3) {
    throw new Error(`backbone "${id}": image must be [N, 3, H, W], got [${image.shape.join(',')}]`);
  }
}
