/**
 * `torch.save`'s format before 1.6 (and with `_use_new_zipfile_serialization=False`): five pickles
 * in a row (magic number, protocol version 1001, system info, the object, the sorted storage keys),
 * then each storage in key order as an int64 element count followed by its raw bytes. Persistent ids
 * are ('storage', StorageType, root_key, location, numel, view_metadata). The older tar format
 * (PyTorch < 0.1.10) is refused with a hint.
 */
import { TorchCheckpointError, failer } from './errors.js';
import { unpickle } from './pickle.js';
import { PyDict, PyTuple, TorchStorage, kindOf, type PyValue } from './py-values.js';
import type { RawCheckpoint } from './raw-checkpoint.js';
import { ELEMENT_SIZE, TORCH_NAMES, storageFor, torchCallables } from './torch-globals.js';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** True for a tar archive (the `ustar` magic at byte 257). */
export function looksLikeTar(bytes: Uint8Array): boolean {
  return bytes.length > 262 && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar';
}

export function readLegacyCheckpoint(bytes: Uint8Array, source: string, strict: boolean): RawCheckpoint {
  const bad = failer(source);
  if (looksLikeTar(bytes))
    bad('a tar archive: the checkpoint format of PyTorch < 0.1.10 is not supported; load it in Python and save it again with torch.save');
  const plain = { source, callables: {}, names: new Set<string>(), strict: true };
  const magic = unpickle(bytes, 0, plain);
  if (magic.value !== MAGIC && magic.value !== Number(MAGIC)) bad("not a PyTorch checkpoint: the file starts with a pickle that is not torch's magic number");
  const protocol = unpickle(bytes, magic.end, plain);
  if (protocol.value !== PROTOCOL_VERSION)
    bad(`legacy checkpoint protocol ${typeof protocol.value === 'number' ? protocol.value : kindOf(protocol.value)}, expected ${PROTOCOL_VERSION}`);
  const sysInfo = unpickle(bytes, protocol.end, plain);
  let bigEndian = false;
  if (sysInfo.value instanceof PyDict) bigEndian = sysInfo.value.map.get('little_endian') === false;
  else bad(`legacy checkpoint system info is ${kindOf(sysInfo.value)}, expected a dict`);

  const roots = new Map<string, TorchStorage>();
  const views = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue, at: number): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length !== 6) {
      if (pid instanceof PyTuple && pid.items[0] === 'module') bad('the file pickles an nn.Module class (torch.save(model)); save model.state_dict() instead');
      return bad(`pickle byte ${at}: persistent id ${kindOf(pid)} is not a ('storage', type, key, location, numel, view) tuple`);
    }
    const [, storageType, key, location, numel, viewMeta] = pid.items;
    const root = storageFor(source, roots, { storageType: storageType!, key: key!, location: location!, numel: numel! });
    if (viewMeta === null) return root;
    if (!(viewMeta instanceof PyTuple) || viewMeta.items.length !== 3)
      return bad(`storage "${root.key}": view metadata is ${kindOf(viewMeta)}, expected (key, offset, size)`);
    const [viewKey, offset, size] = viewMeta.items;
    if (
      typeof viewKey !== 'string' ||
      typeof offset !== 'number' ||
      typeof size !== 'number' ||
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(size) ||
      offset < 0 ||
      size < 0 ||
      offset + size > root.numel
    ) {
      return bad(`storage "${root.key}": bad view metadata (a view must lie inside its ${root.numel}-element root)`);
    }
    const seen = views.get(viewKey);
    if (seen) return seen;
    const view = new TorchStorage(viewKey, root.dtype, root.storageType, size, root.location, { root, offset });
    views.set(viewKey, view);
    return view;
  };
  const main = unpickle(bytes, sysInfo.end, { source, callables: torchCallables(source), names: TORCH_NAMES, persistentLoad, strict });
  const keys = unpickle(bytes, main.end, plain);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string'))
    bad(`the storage key list is ${kindOf(keys.value)}, expected a list of strings`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const storage = roots.get(key);
    if (!storage) bad(`storage "${key}" is listed but no tensor uses it`);
    if (storage!.bytes) bad(`storage "${key}" is listed twice`);
    if (pos + 8 > bytes.length) bad(`storage "${key}": the data ends at byte ${bytes.length}, before its size field: truncated?`);
    const count = view.getBigInt64(pos, !bigEndian);
    if (count !== BigInt(storage!.numel)) bad(`storage "${key}" at byte ${pos} says ${count} elements, the pickle says ${storage!.numel}`);
    const len = storage!.numel * ELEMENT_SIZE[storage!.dtype];
    if (pos + 8 + len > bytes.length)
      bad(`storage "${key}": ${len} bytes from byte ${pos + 8} run past the end of the file (${bytes.length} bytes): truncated?`);
    storage!.bytes = bytes.subarray(pos + 8, pos + 8 + len);
    pos += 8 + len;
  }
  for (const s of roots.values()) if (!s.bytes) bad(`storage "${s.key}" is used but its data is not in the file`);
  for (const v of views.values()) {
    const el = ELEMENT_SIZE[v.dtype];
    const root = v.viewOf!.root;
    v.bytes = root.bytes!.subarray(v.viewOf!.offset * el, (v.viewOf!.offset + v.numel) * el);
  }
  if (pos !== bytes.length) throw new TorchCheckpointError(source, `${bytes.length - pos} unexpected bytes after the last storage`);
  return { format: 'legacy', root: main.value, refused: main.refused, bigEndian, torchScript: false };
}
