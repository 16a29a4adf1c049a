/**
 * `torch.save`'s zip format (PyTorch >= 1.6): `<archive>/data.pkl` is the pickle, each storage is
 * the entry `<archive>/data/<key>`, `<archive>/byteorder` says "little" or "big" (absent before
 * PyTorch 1.10: little). Persistent ids are ('storage', StorageType, key, location, numel).
 */
import { failer } from './errors.js';
import { unpickle } from './pickle.js';
import { PyTuple, kindOf, type PyValue, type TorchStorage } from './py-values.js';
import { ELEMENT_SIZE, TORCH_NAMES, storageFor, torchCallables } from './torch-globals.js';
import { readZip } from './zip.js';
import type { RawCheckpoint } from './raw-checkpoint.js';

export function readZipCheckpoint(bytes: Uint8Array, source: string, strict: boolean): RawCheckpoint {
  const bad = failer(source);
  const zip = readZip(bytes, source);
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    const names = [...zip.entries.keys()].slice(0, 6).join(', ');
    bad(
      pickles.length === 0
        ? `a zip file without <archive>/data.pkl, so not a torch.save checkpoint (entries: ${names || 'none'})`
        : `a zip file with ${pickles.length} data.pkl entries (${pickles.join(', ')})`,
    );
  }
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const torchScript = zip.entries.has(`${prefix}constants.pkl`) || [...zip.entries.keys()].some((n) => n.startsWith(`${prefix}code/`));

  let bigEndian = false;
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder('latin1').decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little' && order !== 'big') bad(`${prefix}byteorder says "${order.slice(0, 20)}", expected "little" or "big"`);
    bigEndian = order === 'big';
  }

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PyValue, at: number): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      return bad(
        `pickle byte ${at}: persistent id ${kindOf(pid)}${pid instanceof PyTuple ? ` starting ${JSON.stringify(typeof pid.items[0] === 'string' ? pid.items[0] : kindOf(pid.items[0]))}` : ''} is not a ('storage', type, key, location, numel) tuple`,
      );
    }
    const [, storageType, key, location, numel] = pid.items;
    const storage = storageFor(source, storages, { storageType: storageType!, key: key!, location: location!, numel: numel! });
    if (!storage.bytes) {
      const entry = `${prefix}data/${storage.key}`;
      if (!zip.entries.has(entry)) bad(`storage "${storage.key}" has no entry ${entry}`);
      const data = zip.read(entry);
      const expected = storage.numel * ELEMENT_SIZE[storage.dtype];
      if (data.length !== expected) bad(`entry ${entry} holds ${data.length} bytes, ${storage.numel} x ${storage.dtype} needs ${expected}`);
      storage.bytes = data;
    }
    return storage;
  };
  const { value, refused } = unpickle(zip.read(pickles[0]!), 0, {
    source: `${source} (${pickles[0]})`,
    callables: torchCallables(source),
    names: TORCH_NAMES,
    persistentLoad,
    strict,
  });
  return { format: 'zip', root: value, refused, bigEndian, torchScript };
}
