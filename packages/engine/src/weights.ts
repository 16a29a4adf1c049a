/**
 * Model weights from files, by name (official UniAS state_dict keys): `backbone.*` and
 * `sem_seg_head.*`. The backbone comes from those files, from a bare backbone file, from the
 * backbone's bundled weights (MobileNetV2), or random (tests). Every problem is a one-line
 * EngineInputError naming the file.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { checkBackboneWeights, loadBackboneWeights, readWeightFile } from '@unias/backbones';
import { buildFeatureGraph, buildKnnEmbeddingGraph, type ResolvedConfig } from '@unias/model';
import { initParams, type TensorData } from '@unias/graph';
import { isTrainingStateMetadata, splitTrainingTensors } from '@unias/training';
import { EngineInputError } from './errors.js';
import { pretrainedWeightsFile } from './weights-cache.js';

export const BACKBONE_SCOPE = 'backbone';
export const HEAD_SCOPE = 'sem_seg_head';

export type WeightMap = Map<string, TensorData>;

export interface ModelWeights {
  /** Backbone params under `backbone.` (only what the taps need). */
  readonly backbone: WeightMap;
  /** Head params under `sem_seg_head.` given by the files (possibly none). */
  readonly head: WeightMap;
  /** Where the backbone came from, for logs and the cache key. */
  readonly backboneSource: string;
  /** SHA-256 of the backbone tensors (names and values). */
  readonly backboneHash: string;
}

export interface WeightSources {
  /** Files whose tensors are bound by name (official layout). */
  readonly files: readonly string[];
  /** 'default' | 'random' | 'pretrained' (the cache of `unias weights fetch`) | a bare backbone file. Ignored when `files` hold backbone tensors. */
  readonly backboneWeights?: string;
  /** Seed of a random backbone. */
  readonly seed?: number;
}

async function mustExist(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new EngineInputError(`${what} ${path}: no such file`);
  if (st.isDirectory()) throw new EngineInputError(`${what} ${path}: is a folder, expected a file`);
}

function firstLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0]!;
}

/**
 * Reads every file (@unias/backbones' readWeightFile: safetensors, PyTorch checkpoints, ONNX) and
 * splits the tensors into backbone and head ones; of a training checkpoint, only the trained params.
 */
async function readFiles(files: readonly string[]): Promise<{ backbone: WeightMap; head: WeightMap }> {
  const backbone: WeightMap = new Map();
  const head: WeightMap = new Map();
  const from = new Map<string, string>();
  for (const file of files) {
    await mustExist(file, 'weights file');
    let weights: ReadonlyMap<string, TensorData>;
    try {
      const read = await readWeightFile(file);
      weights = isTrainingStateMetadata(read.metadata) ? splitTrainingTensors(read.tensors).params : read.tensors;
    } catch (e) {
      throw new EngineInputError(`weights file ${file}: ${firstLine(e).replace(`${file}: `, '')}`);
    }
    const stray: string[] = [];
    for (const [name, t] of weights) {
      const seen = from.get(name);
      if (seen) throw new EngineInputError(`weights: tensor "${name}" is in both ${seen} and ${file}`);
      from.set(name, file);
      if (name.startsWith(`${BACKBONE_SCOPE}.`)) backbone.set(name, t);
      else if (name.startsWith(`${HEAD_SCOPE}.`)) head.set(name, t);
      else stray.push(name);
    }
    if (stray.length > 0) {
      throw new EngineInputError(
        `weights file ${file}: ${stray.length} tensor(s) outside the official layout (backbone.*, sem_seg_head.*), e.g. "${stray[0]}"; a bare backbone file goes with --backbone-weights`,
      );
    }
  }
  return { backbone, head };
}

export function hashWeights(weights: ReadonlyMap<string, TensorData>): string {
  const h = createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    h.update(`${name}:${t.shape.join('x')};`);
    const d = t.data;
    if (ArrayBuffer.isView(d)) h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    else h.update(Float32Array.from(d as ArrayLike<number>));
  }
  return h.digest('hex');
}

/** Loads and checks the backbone (and any head tensors) for a configuration. */
export async function loadModelWeights(config: ResolvedConfig, sources: WeightSources): Promise<ModelWeights> {
  const { backbone: fromFiles, head } = await readFiles(sources.files);
  // a knn detector may embed taps the UniAS head does not use
  const taps = [...new Set([...config.taps, ...(config.knn?.taps ?? [])].map((t) => t.name))];
  const bb = config.backbone;
  let backbone: WeightMap;
  let backboneSource: string;
  if (fromFiles.size > 0) {
    try {
      checkBackboneWeights(bb, fromFiles, { taps, scope: BACKBONE_SCOPE });
    } catch (e) {
      throw new EngineInputError(`weights (${sources.files.join(', ')}): ${firstLine(e)}`);
    }
    backbone = fromFiles;
    backboneSource = `files: ${sources.files.join(', ')}`;
  } else {
    let choice = sources.backboneWeights ?? 'default';
    // 'pretrained': the converted file `unias weights fetch ID` left in the cache
    if (choice === 'pretrained') choice = await pretrainedWeightsFile(bb.id);
    if (choice === 'random') {
      const g = config.knn ? buildKnnEmbeddingGraph(config) : buildFeatureGraph(config);
      backbone = new Map([...initParams(g, sources.seed ?? 0)].filter(([n]) => n.startsWith(`${BACKBONE_SCOPE}.`)));
      backboneSource = `random (seed ${sources.seed ?? 0})`;
    } else if (choice === 'default') {
      if (!bb.defaultWeights) {
        throw new EngineInputError(
          `backbone "${bb.id}" has no bundled weights: give them with --weights FILE (official layout, backbone.* keys) or --backbone-weights FILE`,
        );
      }
      try {
        backbone = await loadBackboneWeights(bb, { taps, scope: BACKBONE_SCOPE });
      } catch (e) {
        throw new EngineInputError(`bundled weights of backbone "${bb.id}": ${firstLine(e)}`);
      }
      backboneSource = bb.defaultWeights.source;
    } else {
      await mustExist(choice, 'backbone weights file');
      try {
        backbone = await loadBackboneWeights(bb, {
          path: choice,
          taps,
          scope: BACKBONE_SCOPE,
          stripPrefix: `${BACKBONE_SCOPE}.`,
          nameMap: (n) => (n.startsWith(`${HEAD_SCOPE}.`) ? null : n),
        });
      } catch (e) {
        throw new EngineInputError(`backbone weights file ${choice}: ${firstLine(e).replace(`${choice}: `, '')}`);
      }
      backboneSource = `file: ${choice}`;
    }
  }
  return { backbone, head, backboneSource, backboneHash: hashWeights(backbone) };
}
