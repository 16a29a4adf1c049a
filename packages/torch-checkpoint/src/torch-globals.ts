/**
 * The torch names a state_dict pickle uses, and what each builds: `collections.OrderedDict`, the
 * tensor and parameter rebuild functions, and the storage types that persistent ids name. Each
 * rebuild checks its arguments (types, shapes, strides within the storage) so a corrupt file is
 * refused before any data is touched.
 */
import { TorchCheckpointError } from './errors.js';
import type { Callable } from './pickle.js';
import { PyDict, PyGlobal, PyTuple, Refused, TorchStorage, TorchTensor, kindOf, type PyValue, type TorchDType } from './py-values.js';

/** Storage types by their class name in `torch`, and the bytes per element. */
export const STORAGE_TYPES: Readonly<Record<string, { readonly dtype: TorchDType; readonly size: number }>> = {
  DoubleStorage: { dtype: 'F64', size: 8 },
  FloatStorage: { dtype: 'F32', size: 4 },
  HalfStorage: { dtype: 'F16', size: 2 },
  BFloat16Storage: { dtype: 'BF16', size: 2 },
  LongStorage: { dtype: 'I64', size: 8 },
  IntStorage: { dtype: 'I32', size: 4 },
  ShortStorage: { dtype: 'I16', size: 2 },
  CharStorage: { dtype: 'I8', size: 1 },
  ByteStorage: { dtype: 'U8', size: 1 },
  BoolStorage: { dtype: 'BOOL', size: 1 },
};

export const ELEMENT_SIZE: Readonly<Record<TorchDType, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Names a GLOBAL may push that are never called: the storage types (the callables are in torchCallables). */
export const TORCH_NAMES: ReadonlySet<string> = new Set(Object.keys(STORAGE_TYPES).map((n) => `torch.${n}`));

function intArg(source: string, fn: string, what: string, v: PyValue | undefined): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new TorchCheckpointError(source, `${fn}: ${what} must be a non-negative integer, got ${typeof v === 'number' ? v : kindOf(v)}`);
  }
  return v;
}

function intTuple(source: string, fn: string, what: string, v: PyValue | undefined): number[] {
  // torch pickles sizes as tuples (torch.Size reduces to a tuple); accept a list too.
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (!items) throw new TorchCheckpointError(source, `${fn}: ${what} must be a tuple of integers, got ${kindOf(v)}`);
  return items.map((x, i) => intArg(source, fn, `${what}[${i}]`, x));
}

/** A strided view's checks: same rank, and every element it can address inside the storage. */
function rebuildTensor(source: string, fn: string, args: readonly PyValue[]): TorchTensor {
  const [storage, offsetArg, sizeArg, strideArg] = args;
  if (!(storage instanceof TorchStorage)) throw new TorchCheckpointError(source, `${fn}: expected a storage as its first argument, got ${kindOf(storage)}`);
  const offset = intArg(source, fn, 'storage offset', offsetArg);
  const shape = intTuple(source, fn, 'size', sizeArg);
  const stride = intTuple(source, fn, 'stride', strideArg);
  if (shape.length !== stride.length)
    throw new TorchCheckpointError(source, `${fn}: size [${shape.join(',')}] and stride [${stride.join(',')}] differ in rank`);
  if (shape.every((d) => d > 0)) {
    let last = offset;
    for (let i = 0; i < shape.length; i++) last += (shape[i]! - 1) * stride[i]!;
    if (last >= storage.numel) {
      throw new TorchCheckpointError(
        source,
        `${fn}: a view with offset ${offset}, size [${shape.join(',')}], stride [${stride.join(',')}] reaches element ${last} of a storage of ${storage.numel}`,
      );
    }
  }
  return new TorchTensor(storage, offset, shape, stride);
}

/** The callables a state_dict pickle may invoke, bound to one file for error messages. */
export function torchCallables(source: string): Record<string, Callable> {
  const parameter =
    (fn: string) =>
    (args: readonly PyValue[]): PyValue => {
      // A Parameter is its data for reading purposes; requires_grad and hooks do not matter.
      const data = args[0];
      if (!(data instanceof TorchTensor)) throw new TorchCheckpointError(source, `${fn}: expected a tensor, got ${kindOf(data)}`);
      return data;
    };
  const orderedDict = (args: readonly PyValue[]): PyValue => {
    const d = new PyDict(true);
    // OrderedDict() with no arguments (items follow by SETITEMS), or OrderedDict([(k, v), ...]).
    if (args.length > 1) throw new TorchCheckpointError(source, `collections.OrderedDict: expected at most one argument, got ${args.length}`);
    const items = args[0];
    if (items !== undefined) {
      if (!Array.isArray(items)) throw new TorchCheckpointError(source, `collections.OrderedDict: expected a list of pairs, got ${kindOf(items)}`);
      for (const pair of items) {
        if (!(pair instanceof PyTuple) || pair.items.length !== 2)
          throw new TorchCheckpointError(source, `collections.OrderedDict: expected (key, value) pairs, got ${kindOf(pair)}`);
        d.map.set(pair.items[0]!, pair.items[1]!);
      }
    }
    return d;
  };
  return {
    'collections.OrderedDict': orderedDict,
    'torch._utils._rebuild_tensor': (args) => rebuildTensor(source, 'torch._utils._rebuild_tensor', args),
    'torch._utils._rebuild_tensor_v2': (args) => rebuildTensor(source, 'torch._utils._rebuild_tensor_v2', args),
    'torch._utils._rebuild_parameter': parameter('torch._utils._rebuild_parameter'),
    'torch._utils._rebuild_parameter_with_state': parameter('torch._utils._rebuild_parameter_with_state'),
  };
}

/**
 * A storage from its persistent-id fields, the same object for every mention of one key (tensors
 * sharing a storage share it here too).
 */
export function storageFor(
  source: string,
  cache: Map<string, TorchStorage>,
  fields: { storageType: PyValue; key: PyValue; location: PyValue; numel: PyValue },
): TorchStorage {
  const { storageType, key, location, numel } = fields;
  const typeName = storageType instanceof PyGlobal || storageType instanceof Refused ? storageType.qualifiedName : kindOf(storageType);
  const short = typeName.slice('torch.'.length);
  // own keys only: "torch.constructor" names no storage type
  const info = typeName.startsWith('torch.') && Object.hasOwn(STORAGE_TYPES, short) ? STORAGE_TYPES[short] : undefined;
  if (!info) {
    throw new TorchCheckpointError(
      source,
      `storage type ${typeName} is not supported (supported: ${Object.keys(STORAGE_TYPES)
        .map((n) => `torch.${n}`)
        .join(', ')})`,
    );
  }
  if (typeof key !== 'string') throw new TorchCheckpointError(source, `storage key must be a string, got ${kindOf(key)}`);
  const n = intArg(source, 'storage', `"${key}" element count`, numel);
  const existing = cache.get(key);
  if (existing) {
    if (existing.dtype !== info.dtype || existing.numel !== n) {
      throw new TorchCheckpointError(
        source,
        `storage "${key}" is named twice with different types or sizes (${existing.storageType} x ${existing.numel}, ${typeName} x ${n})`,
      );
    }
    return existing;
  }
  const s = new TorchStorage(key, info.dtype, typeName, n, typeof location === 'string' ? location : 'cpu');
  cache.set(key, s);
  return s;
}
