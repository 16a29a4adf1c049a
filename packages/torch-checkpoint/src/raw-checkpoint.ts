/** What a format reader hands on: the unpickled object, with every storage's bytes attached. */
import type { PyValue, Refused } from './py-values.js';

export interface RawCheckpoint {
  readonly format: 'zip' | 'legacy';
  readonly root: PyValue;
  /** Classes named in the pickle but not loaded (placeholders in `root`). */
  readonly refused: readonly Refused[];
  /** Storages hold big-endian data (the file was written on a big-endian machine). */
  readonly bigEndian: boolean;
  /** A TorchScript archive (`torch.jit.save`), which holds code, not a plain state_dict. */
  readonly torchScript: boolean;
}
