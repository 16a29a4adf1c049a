/**
 * Training checkpoints as one safetensors file, written atomically: the trained params under their
 * own names (so the file is also a weights file), optimizer state under "optimizer.<name>", and the
 * step count and Rng state in the metadata. Every tensor and the header carry a CRC-32, so a file
 * damaged on disk is refused naming the tensor, as is one holding NaN or infinity (a run that
 * diverged must not be resumed silently).
 */
import { CHECKSUM_METADATA_KEY, entryToTensor, readSafetensorsFile, writeSafetensorsFile, type RngState, type TensorData } from '@unias/graph';
import type { TrainingState } from './training-step.js';

/**
 * `__metadata__.format` of the checkpoints this package writes. Version 2 always carries checksums
 * (and is refused without them); version 1 files, written before, still load.
 */
export const TRAINING_STATE_FORMAT = 'unias-training-state/2';
/** Every `__metadata__.format` a training checkpoint may have, newest first. */
export const TRAINING_STATE_FORMATS = [TRAINING_STATE_FORMAT, 'unias-training-state/1'] as const;
export type TrainingStateFormat = (typeof TRAINING_STATE_FORMATS)[number];
/** Optimizer state is stored under this prefix; every other tensor of a checkpoint is a trained param. */
export const OPTIMIZER_STATE_PREFIX = 'optimizer.';

const FORMAT = TRAINING_STATE_FORMAT;
const OPTIMIZER_PREFIX = OPTIMIZER_STATE_PREFIX;

/** The checkpoint format a file's `__metadata__` names, or undefined when it is not a training checkpoint. */
export function trainingStateFormatOf(metadata: Readonly<Record<string, string>>): TrainingStateFormat | undefined {
  const format = metadata['format'];
  return (TRAINING_STATE_FORMATS as readonly string[]).includes(format ?? '') ? (format as TrainingStateFormat) : undefined;
}

/** Whether a safetensors file's `__metadata__` is that of a training checkpoint (any version). */
export function isTrainingStateMetadata(metadata: Readonly<Record<string, string>>): boolean {
  return trainingStateFormatOf(metadata) !== undefined;
}

/** A checkpoint's tensors split into the trained params (names as stored) and the optimizer state (names without the prefix). */
export function splitTrainingTensors<T>(tensors: Iterable<readonly [string, T]>): { params: Map<string, T>; optimizer: Map<string, T> } {
  const params = new Map<string, T>();
  const optimizer = new Map<string, T>();
  for (const [name, t] of tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizer.set(name.slice(OPTIMIZER_PREFIX.length), t);
    else params.set(name, t);
  }
  return { params, optimizer };
}

export async function saveTrainingState(path: string, state: TrainingState): Promise<void> {
  const tensors: Record<string, { shape: readonly number[]; data: ArrayLike<number> }> = {};
  for (const [name, t] of state.params) tensors[name] = { shape: t.shape, data: t.data };
  for (const [name, t] of state.optimizer) tensors[`${OPTIMIZER_PREFIX}${name}`] = { shape: t.shape, data: t.data };
  await writeSafetensorsFile(path, tensors, { format: FORMAT, step: String(state.step), rng: JSON.stringify(state.rng) }, { checksums: true });
}

function parseRng(text: string | undefined, path: string): RngState {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    throw new Error(`${path}: checkpoint metadata "rng" is not JSON`);
  }
  const v = value as { s?: unknown; spare?: unknown };
  const s = v.s;
  if (!Array.isArray(s) || s.length !== 4 || !s.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) {
    throw new Error(`${path}: checkpoint metadata "rng" has no valid state words`);
  }
  if (v.spare !== null && typeof v.spare !== 'number') throw new Error(`${path}: checkpoint metadata "rng.spare" must be a number or null`);
  return { s: [s[0], s[1], s[2], s[3]], spare: v.spare };
}

export async function loadTrainingState(path: string): Promise<TrainingState> {
  const file = await readSafetensorsFile(path);
  const format = trainingStateFormatOf(file.metadata);
  if (format === undefined) {
    throw new Error(`${path}: not a UniAS training checkpoint (metadata "format" is ${JSON.stringify(file.metadata['format'] ?? null)}, expected "${FORMAT}")`);
  }
  // checksums were verified when present; a version-2 file without them had its header damaged
  if (format === FORMAT && file.metadata[CHECKSUM_METADATA_KEY] === undefined) {
    throw new Error(`${path}: a ${FORMAT} checkpoint without its "${CHECKSUM_METADATA_KEY}" checksums: the header is damaged`);
  }
  const step = Number(file.metadata['step']);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${path}: checkpoint metadata "step" must be a non-negative integer, got ${file.metadata['step']}`);
  const tensors = new Map<string, TensorData>();
  for (const [name, entry] of file.tensors) {
    if (entry.dtype !== 'F32') throw new Error(`${path}: tensor "${name}" is ${entry.dtype}, checkpoints hold F32`);
    const tensor = entryToTensor(entry);
    const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${path}: tensor "${name}" holds ${tensor.data[bad]} at element ${bad}: the checkpoint is corrupt or the run diverged`);
    tensors.set(name, tensor);
  }
  const { params, optimizer } = splitTrainingTensors(tensors);
  return { step, params, optimizer, rng: parseRng(file.metadata['rng'], path) };
}
