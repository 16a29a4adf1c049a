/**
 * A PyTorch checkpoint's state_dict as safetensors-shaped entries (name, dtype, shape, contiguous
 * little-endian bytes), so everything that reads safetensors reads a `.pth` the same way: the same
 * F16 / BF16 -> float32 conversion, the same key mapping, bit for bit the same tensors.
 */
import { readFile } from 'node:fs/promises';
import { entryToTensor, type SafetensorsEntry, type SafetensorsFile, type TensorData } from '@unias/graph';
import { TorchCheckpointError } from './errors.js';
import { readLegacyCheckpoint, looksLikeTar } from './legacy-format.js';
import type { PyValue } from './py-values.js';
import type { RawCheckpoint } from './raw-checkpoint.js';
import { findStateDict } from './state-dict.js';
import { tensorBytes } from './tensor-bytes.js';
import { looksLikeZip } from './zip.js';
import { readZipCheckpoint } from './zip-format.js';

/** File names read as PyTorch checkpoints (`ckpt.pth.tar` is what the official UniAS code writes). */
export const TORCH_CHECKPOINT_EXTENSIONS: readonly string[] = ['.pth', '.pt', '.pth.tar', '.pt.tar'];

export function isTorchCheckpointPath(path: string): boolean {
  const p = path.toLowerCase();
  return TORCH_CHECKPOINT_EXTENSIONS.some((e) => p.endsWith(e));
}

export interface ReadTorchCheckpointOptions {
  /** The file's name in errors (default "PyTorch checkpoint bytes"; the path for files). */
  readonly source?: string;
  /** Keys leading to the state_dict, e.g. ['state_dict']; default: found (see findStateDict). */
  readonly key?: readonly string[];
  /** Keep a `module.` prefix that every name has (DataParallel / DistributedDataParallel); default: removed. */
  readonly keepModulePrefix?: boolean;
  /** Refuse any class a state_dict does not need anywhere in the file (default: such objects elsewhere are skipped unread). */
  readonly strict?: boolean;
  /** Cap on one tensor's bytes (default 2 GiB). */
  readonly maxTensorBytes?: number;
}

export interface TorchCheckpoint {
  readonly source: string;
  readonly format: 'zip' | 'legacy';
  /** The state_dict's tensors in file order, contiguous little-endian. */
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  /** Keys leading to the state_dict: [] when the file is the state_dict. */
  readonly path: readonly string[];
  /** The prefix removed from every name (`module.`), if any. */
  readonly strippedPrefix?: string;
  /** Classes named elsewhere in the file and not loaded (e.g. `easydict.EasyDict`), each once. */
  readonly skipped: readonly string[];
  /** The whole unpickled object (epoch, optimizer, ...), placeholders where classes were skipped. */
  readonly root: PyValue;
}

const MODULE_PREFIX = 'module.';

function readRaw(bytes: Uint8Array, source: string, strict: boolean): RawCheckpoint {
  if (looksLikeZip(bytes)) return readZipCheckpoint(bytes, source, strict);
  if (bytes.length > 0 && bytes[0] === 0x80) return readLegacyCheckpoint(bytes, source, strict);
  if (looksLikeTar(bytes)) return readLegacyCheckpoint(bytes, source, strict);
  throw new TorchCheckpointError(
    source,
    `not a PyTorch checkpoint: ${bytes.length === 0 ? 'the file is empty' : 'neither a zip archive (torch >= 1.6) nor a pickle (older torch.save)'}`,
  );
}

export function readTorchCheckpoint(bytes: Uint8Array, options: ReadTorchCheckpointOptions = {}): TorchCheckpoint {
  const source = options.source ?? 'PyTorch checkpoint bytes';
  const raw = readRaw(bytes, source, options.strict ?? false);
  const hint = raw.torchScript ? "a TorchScript archive from torch.jit.save: save the model's state_dict with torch.save instead" : undefined;
  const found = findStateDict(raw.root, source, options.key, hint);
  const names = [...found.tensors.keys()];
  const strip = !options.keepModulePrefix && names.length > 0 && names.every((n) => n.startsWith(MODULE_PREFIX)) ? MODULE_PREFIX : undefined;
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [fileName, t] of found.tensors) {
    const name = strip ? fileName.slice(strip.length) : fileName;
    if (tensors.has(name)) throw new TorchCheckpointError(source, `tensor "${name}" appears twice`);
    const bytesOut = tensorBytes(t, fileName, {
      source,
      bigEndian: raw.bigEndian,
      ...(options.maxTensorBytes !== undefined ? { maxTensorBytes: options.maxTensorBytes } : {}),
    });
    tensors.set(name, { name, dtype: t.storage.dtype, shape: [...t.shape], bytes: bytesOut });
  }
  return {
    source,
    format: raw.format,
    tensors,
    path: found.path,
    ...(strip ? { strippedPrefix: strip } : {}),
    skipped: [...new Set(raw.refused.map((r) => r.qualifiedName))],
    root: raw.root,
  };
}

export async function readTorchCheckpointFile(path: string, options: Omit<ReadTorchCheckpointOptions, 'source'> = {}): Promise<TorchCheckpoint> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new TorchCheckpointError(path, `cannot read the checkpoint: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return readTorchCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { ...options, source: path });
}

/** The state_dict as a SafetensorsFile (metadata `format: pt`), for code that reads safetensors. */
export function checkpointAsSafetensors(ckpt: TorchCheckpoint): SafetensorsFile {
  return { tensors: ckpt.tensors, metadata: { format: 'pt' } };
}

/** The state_dict as TensorData: floats as float32 (F16 / BF16 / F64 converted), integers as int32, bool as bool. */
export function checkpointTensorData(ckpt: TorchCheckpoint): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const [name, e] of ckpt.tensors) out.set(name, entryToTensor(e));
  return out;
}
