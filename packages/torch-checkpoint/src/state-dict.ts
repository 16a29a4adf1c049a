/**
 * Where the state_dict is in an unpickled checkpoint: the whole object when it maps names to
 * tensors, else the first such dict under `state_dict`, `model`, `model_state_dict`, `module` or
 * `net` (nested up to three levels: the official UniAS `ckpt.pth.tar` keeps it under `state_dict`,
 * beside `epoch`, `arch`, `best_metric` and `optimizer`).
 */
import { failer } from './errors.js';
import { PyDict, Refused, TorchTensor, kindOf, type PyValue } from './py-values.js';

export const STATE_DICT_KEYS: readonly string[] = ['state_dict', 'model', 'model_state_dict', 'module', 'net'];
const MAX_DEPTH = 3;

export interface FoundStateDict {
  /** Keys leading to it: [] for the whole file. */
  readonly path: readonly string[];
  readonly tensors: ReadonlyMap<string, TorchTensor>;
}

function describePath(path: readonly string[]): string {
  return path.length === 0 ? 'the file' : path.map((k) => `[${JSON.stringify(k)}]`).join('');
}

/** Undefined when `v` is a non-empty dict of string -> tensor; else why not. */
function notAStateDict(v: PyValue | undefined): string | undefined {
  if (!(v instanceof PyDict)) return `is ${kindOf(v)}, not a dict of tensors`;
  if (v.map.size === 0) return 'is an empty dict';
  for (const [k, t] of v.map) {
    if (typeof k !== 'string') return `has a ${kindOf(k)} key, not a tensor name`;
    if (!(t instanceof TorchTensor)) return `holds ${kindOf(t)} at ${JSON.stringify(k)}, not a tensor`;
  }
  return undefined;
}

function summary(d: PyDict): string {
  const keys = [...d.map.entries()].slice(0, 8).map(([k, v]) => `${typeof k === 'string' ? k : String(k)} (${kindOf(v)})`);
  return `${keys.join(', ')}${d.map.size > 8 ? `, ... (${d.map.size} keys)` : ''}`;
}

/** `hint` is added to every error (e.g. what to do with a TorchScript archive). */
export function findStateDict(root: PyValue, source: string, key?: readonly string[], hint?: string): FoundStateDict {
  const fail = failer(source);
  const bad = (reason: string): never => fail(hint ? `${reason} (${hint})` : reason);
  const found = (path: readonly string[], d: PyDict): FoundStateDict => ({ path, tensors: d.map as Map<string, TorchTensor> });
  if (key) {
    let v: PyValue | undefined = root;
    for (let i = 0; i < key.length; i++) {
      if (!(v instanceof PyDict)) bad(`${describePath(key.slice(0, i))} is ${kindOf(v)}, so it has no key ${JSON.stringify(key[i])}`);
      const d = v as PyDict;
      if (!d.map.has(key[i]!)) bad(`${describePath(key.slice(0, i))} has no key ${JSON.stringify(key[i])} (keys: ${summary(d)})`);
      v = d.map.get(key[i]!);
    }
    const why = notAStateDict(v);
    if (why) bad(`${describePath(key)} ${why}`);
    return found(key, v as PyDict);
  }
  if (root instanceof Refused) {
    bad(`the file holds an object of ${root.qualifiedName} (e.g. torch.save(model)), which is not loaded; save model.state_dict() instead`);
  }
  // Breadth first: the shallowest dict of tensors wins.
  let level: Array<{ path: string[]; value: PyValue | undefined }> = [{ path: [], value: root }];
  let nearMiss: string | undefined;
  for (let depth = 0; depth <= MAX_DEPTH && level.length > 0; depth++) {
    const next: typeof level = [];
    for (const { path, value } of level) {
      const why = notAStateDict(value);
      if (!why) return found(path, value as PyDict);
      if (!(value instanceof PyDict)) continue;
      const tensors = [...value.map.values()].filter((v) => v instanceof TorchTensor).length;
      if (nearMiss === undefined && tensors > 0) nearMiss = `${describePath(path)} ${why}`;
      for (const k of STATE_DICT_KEYS) if (value.map.has(k)) next.push({ path: [...path, k], value: value.map.get(k) });
    }
    level = next;
  }
  const where = root instanceof PyDict ? `a dict with keys ${summary(root)}` : kindOf(root);
  return bad(
    `no state_dict found: the file holds ${where}; expected a dict of tensors, or one under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')}` +
      (nearMiss ? ` (${nearMiss})` : ''),
  );
}
