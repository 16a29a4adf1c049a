export {
  TORCH_CHECKPOINT_EXTENSIONS,
  checkpointAsSafetensors,
  checkpointTensorData,
  isTorchCheckpointPath,
  readTorchCheckpoint,
  readTorchCheckpointFile,
  type ReadTorchCheckpointOptions,
  type TorchCheckpoint,
} from './read.js';
export { TorchCheckpointError } from './errors.js';
export { STATE_DICT_KEYS } from './state-dict.js';
export { unpickle, type Callable, type UnpickleOptions, type UnpickleResult } from './pickle.js';
export { PyDict, PyGlobal, PySet, PyTuple, Refused, TorchStorage, TorchTensor, kindOf, type PyValue, type TorchDType } from './py-values.js';
export { STORAGE_TYPES } from './torch-globals.js';
