/**
 * The Python values a restricted unpickle can produce. Only plain data is ever built: containers,
 * numbers, strings, bytes, the tensors and storages that torch's own callables describe, and a
 * `Refused` placeholder standing for any other class, which is named but never constructed.
 */

/** A class or function named by a GLOBAL opcode that the reader knows. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * Anything built from a class the reader does not load (e.g. `easydict.EasyDict` in a checkpoint's
 * configuration, a numpy scalar). Its arguments and state are dropped unread.
 */
export class Refused {
  constructor(
    /** `module.name` of the class or function. */
    readonly qualifiedName: string,
    /** Byte offset of the GLOBAL opcode that named it. */
    readonly at: number,
  ) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** dict and collections.OrderedDict (insertion order kept). Keys are compared as Python would for str/int/bool/None. */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  /** State set by BUILD (an OrderedDict's `_metadata`, for a state_dict). */
  state: PyValue | undefined;
  constructor(readonly ordered: boolean) {}
}

export class PySet {
  readonly items: PyValue[] = [];
  constructor(readonly frozen: boolean) {}
}

/** Element types of torch storages, named as safetensors names them. */
export type TorchDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export class TorchStorage {
  /** Raw bytes of the whole storage, in the file's byte order; set once the file's data is read. */
  bytes: Uint8Array | undefined;
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly storageType: string,
    /** Number of elements. */
    readonly numel: number,
    readonly location: string,
    /** A legacy view of another storage (offset in elements), resolved when the root's bytes arrive. */
    readonly viewOf?: { readonly root: TorchStorage; readonly offset: number },
  ) {}
}

export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    /** In elements. */
    readonly offset: number,
    readonly shape: readonly number[],
    /** In elements. */
    readonly stride: readonly number[],
  ) {}
}

export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | Refused | TorchStorage | TorchTensor;

/** A short description of a value's kind, for error messages. */
export function kindOf(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyGlobal) return `the class or function ${v.qualifiedName}`;
  if (v instanceof Refused) return `an object of ${v.qualifiedName} (not loaded)`;
  if (v instanceof TorchStorage) return `a torch storage`;
  return `a ${v.storage.dtype} tensor [${v.shape.join(',')}]`;
}
