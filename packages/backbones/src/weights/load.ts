/** One entry point: a backbone's weights from a file (by extension) or from its bundled default, checked. */
import type { Backbone, DefaultWeightsOptions } from '../backbone.js';
import { checkBackboneWeights } from './check.js';
import { readWeightFile } from './file.js';
import { prefixWeights, type ImportOptions, type WeightMap } from './names.js';
import type { TorchImportOptions } from './torch-checkpoint.js';

/**
 * The weights of a file by its type: `.safetensors`, `.onnx`, a tfjs layers `model.json` (`.json`), or a
 * PyTorch checkpoint (`.pth`, `.pt`, `.pth.tar`); `readWeightFile(path).tensors`.
 */
export async function importWeights(path: string, options: TorchImportOptions = {}): Promise<WeightMap> {
  return (await readWeightFile(path, options)).tensors;
}

export interface LoadBackboneWeightsOptions extends ImportOptions, DefaultWeightsOptions {
  /** A weights file; without it, the backbone's bundled default weights. */
  readonly path?: string;
  /** Taps the weights must cover (default: the backbone's default taps). */
  readonly taps?: readonly string[];
  /**
   * Scope the backbone is built under in the model (e.g. "backbone"): the returned names get
   * `scope.` in front. A file's names must be the backbone's own (after nameMap / stripPrefix, e.g.
   * `stripPrefix: 'backbone.'` for a UniAS checkpoint).
   */
  readonly scope?: string;
}

/**
 * The backbone's weights, keyed as its parameters are named under `scope`, checked against the
 * network: an unknown or misshaped tensor, or one the taps need but the weights lack, is an error.
 */
export async function loadBackboneWeights(backbone: Backbone, options: LoadBackboneWeightsOptions = {}): Promise<WeightMap> {
  let weights: WeightMap;
  if (options.path) {
    weights = await importWeights(options.path, options);
  } else {
    if (!backbone.defaultWeights) {
      throw new Error(`backbone "${backbone.id}" has no bundled weights; pass a weights file (${backbone.weightLayout} key layout)`);
    }
    weights = await backbone.defaultWeights.load(options);
  }
  const scoped = options.scope ? prefixWeights(weights, `${options.scope}.`) : weights;
  checkBackboneWeights(backbone, scoped, { ...(options.taps ? { taps: options.taps } : {}), ...(options.scope ? { scope: options.scope } : {}) });
  return scoped;
}
