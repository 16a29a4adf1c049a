/**
 * A restricted unpickler: the pickle virtual machine (protocols 0-4, as `torch.save` writes protocol
 * 2) over plain data only. A GLOBAL names a class or function; only the callables the caller lists
 * are ever "called" (they are TypeScript functions that build plain values), other known names may
 * be passed around (storage types), and any other name becomes a `Refused` placeholder whose
 * arguments and state are dropped (or, with `strict`, an error at once). Nothing from the file is
 * executed. Every malformed input ends in a TorchCheckpointError naming the opcode and byte offset.
 */
import { TorchCheckpointError } from './errors.js';
import { PyDict, PyGlobal, PySet, PyTuple, Refused, kindOf, type PyValue } from './py-values.js';

export type Callable = (args: readonly PyValue[], at: number) => PyValue;

export interface UnpickleOptions {
  /** The file, for error messages. */
  readonly source: string;
  /** Functions and classes that REDUCE / NEWOBJ may call, by `module.name`. */
  readonly callables: Readonly<Record<string, Callable>>;
  /** Names a GLOBAL may push without calling them (e.g. `torch.FloatStorage`), by `module.name`. */
  readonly names: ReadonlySet<string>;
  /** Resolves a persistent id (torch's storages); without it PERSID / BINPERSID are refused. */
  readonly persistentLoad?: (pid: PyValue, at: number) => PyValue;
  /** Refuse any other GLOBAL at once instead of leaving a `Refused` placeholder. */
  readonly strict?: boolean;
}

export interface UnpickleResult {
  readonly value: PyValue;
  /** Byte offset just after the STOP opcode (the next pickle in a legacy file starts there). */
  readonly end: number;
  /** Every class or function that was named but not loaded. */
  readonly refused: readonly Refused[];
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Opcodes known to pickle but refused here: they build objects by calling classes or need out-of-band data. */
const REFUSED_OPCODES = new Set([0x69, 0x6f, 0x82, 0x83, 0x84, 0x92, 0x97, 0x98]);

function opName(op: number): string {
  return `${OPCODE_NAMES[op] ?? 'unknown opcode'} (0x${op.toString(16).padStart(2, '0')})`;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Python ints as JS numbers when exact, bigints beyond 2^53. */
function pyInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Two's-complement little-endian integer of LONG1 / LONG4. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return pyInt(v);
}

export function unpickle(bytes: Uint8Array, start: number, options: UnpickleOptions): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let opAt = start;
  let op = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const refused: Refused[] = [];

  const bad = (reason: string): never => {
    throw new TorchCheckpointError(options.source, `pickle ${opName(op)} at byte ${opAt}: ${reason}`);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || pos + n > bytes.length) bad(`needs ${n} bytes, ${bytes.length - pos} left: truncated?`);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const u8 = (): number => take(1)[0]!;
  const u16 = (): number => {
    take(2);
    return view.getUint16(pos - 2, true);
  };
  const u32 = (): number => {
    take(4);
    return view.getUint32(pos - 4, true);
  };
  const i32 = (): number => {
    take(4);
    return view.getInt32(pos - 4, true);
  };
  const u64 = (): number => {
    take(8);
    const v = view.getBigUint64(pos - 8, true);
    if (v > BigInt(bytes.length)) bad(`length ${v} exceeds the file`);
    return Number(v);
  };
  /** A text argument: the bytes up to the next newline. */
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) bad('no newline ends its text argument: truncated?');
    const text = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) bad('the stack is empty');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) bad('the stack is empty');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    if (marks.length === 0) bad('no MARK to pop to');
    const at = marks.pop()!;
    return stack.splice(at);
  };
  const utf8Text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return bad('string is not valid UTF-8');
    }
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) bad(`memo slot ${i} was never set`);
    return memo.get(i)!;
  };
  const memoPut = (i: number): void => {
    memo.set(i, top());
  };
  const global = (module: string, name: string): PyValue => {
    const qualified = `${module}.${name}`;
    if (qualified in options.callables || options.names.has(qualified)) return new PyGlobal(module, name);
    if (options.strict)
      bad(`refused: ${qualified} is not one of the classes a state_dict needs (${[...Object.keys(options.callables), ...options.names].join(', ')})`);
    const r = new Refused(qualified, opAt);
    refused.push(r);
    return r;
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (fn instanceof Refused) return fn;
    if (!(args instanceof PyTuple)) return bad(`arguments are ${kindOf(args)}, not a tuple`);
    if (!(fn instanceof PyGlobal)) return bad(`cannot call ${kindOf(fn)}`);
    const impl = Object.hasOwn(options.callables, fn.qualifiedName) ? options.callables[fn.qualifiedName] : undefined;
    if (!impl) return bad(`refused: ${fn.qualifiedName} may be named but not called`);
    return impl(args.items, opAt);
  };
  const setItems = (target: PyValue, items: readonly PyValue[]): void => {
    if (target instanceof Refused) return;
    if (!(target instanceof PyDict)) return bad(`cannot set items on ${kindOf(target)}`);
    if (items.length % 2 !== 0) bad(`odd number of items (${items.length}) for key/value pairs`);
    for (let i = 0; i < items.length; i += 2) target.map.set(items[i]!, items[i + 1]!);
  };
  const appendItems = (target: PyValue, items: readonly PyValue[]): void => {
    if (target instanceof Refused) return;
    if (!Array.isArray(target)) return bad(`cannot append to ${kindOf(target)}`);
    for (const it of items) target.push(it);
  };
  const checkedLength = (n: number): number => {
    if (n < 0) bad(`negative length ${n}`);
    return n;
  };

  for (;;) {
    opAt = pos;
    if (pos >= bytes.length) {
      op = 0;
      bad('the pickle ends without a STOP opcode: truncated?');
    }
    op = bytes[pos++]!;
    if (REFUSED_OPCODES.has(op)) bad('refused: this opcode builds objects by calling classes or needs out-of-band data, which a state_dict never does');
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) bad(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        take(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) bad(`the stack holds ${stack.length} values and ${marks.length} marks at STOP, expected one value`);
        return { value: stack[0]!, end: pos, refused };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x49: {
        // INT (text; "01"/"00" are protocol 0's booleans)
        const t = line().trim();
        if (t === '01') stack.push(true);
        else if (t === '00') stack.push(false);
        else if (/^[+-]?\d+$/.test(t)) stack.push(pyInt(BigInt(t)));
        else bad(`"${t.slice(0, 40)}" is not an integer`);
        break;
      }
      case 0x4c: {
        // LONG (text, with a trailing L)
        const t = line().trim().replace(/L$/, '');
        if (!/^[+-]?\d+$/.test(t)) bad(`"${t.slice(0, 40)}" is not an integer`);
        stack.push(pyInt(BigInt(t)));
        break;
      }
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(decodeLong(take(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(decodeLong(take(checkedLength(i32()))));
        break; // LONG4
      case 0x46: {
        // FLOAT (text)
        const t = line().trim();
        const v = Number(t);
        if (t === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(t))) bad(`"${t.slice(0, 40)}" is not a float`);
        stack.push(v);
        break;
      }
      case 0x47: {
        // BINFLOAT: big-endian double
        take(8);
        stack.push(view.getFloat64(pos - 8, false));
        break;
      }
      case 0x53:
        stack.push(decodeStringRepr(line(), bad));
        break; // STRING (Python 2 str repr)
      case 0x54:
        stack.push(latin1.decode(take(checkedLength(i32()))));
        break; // BINSTRING
      case 0x55:
        stack.push(latin1.decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x56:
        stack.push(decodeRawUnicodeEscape(line(), bad));
        break; // UNICODE
      case 0x58:
        stack.push(utf8Text(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(utf8Text(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8Text(take(u64())));
        break; // BINUNICODE8
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(take(u64()).slice());
        break; // BINBYTES8
      case 0x96:
        stack.push(take(u64()).slice());
        break; // BYTEARRAY8
      case 0x29:
        stack.push(new PyTuple([]));
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(new PyTuple(popMark()));
        break; // TUPLE
      case 0x85:
        stack.push(new PyTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d:
        stack.push(new PyDict(false));
        break; // EMPTY_DICT
      case 0x64: {
        // DICT
        const d = new PyDict(false);
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f:
        stack.push(new PySet(false));
        break; // EMPTY_SET
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (s instanceof PySet) for (const it of items) s.items.push(it);
        else if (!(s instanceof Refused)) bad(`cannot add items to ${kindOf(s)}`);
        break;
      }
      case 0x91: {
        // FROZENSET
        const s = new PySet(true);
        for (const it of popMark()) s.items.push(it);
        stack.push(s);
        break;
      }
      case 0x67:
        stack.push(memoGet(parseIndex(line(), bad)));
        break; // GET
      case 0x68:
        stack.push(memoGet(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(u32()));
        break; // LONG_BINGET
      case 0x70:
        memoPut(parseIndex(line(), bad));
        break; // PUT
      case 0x71:
        memoPut(u8());
        break; // BINPUT
      case 0x72:
        memoPut(u32());
        break; // LONG_BINPUT
      case 0x94:
        memoPut(memo.size);
        break; // MEMOIZE
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad(`module and name must be strings, got ${kindOf(module)} and ${kindOf(name)}`);
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only for the callables listed (OrderedDict)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = top();
        if (target instanceof PyDict) target.state = state;
        else if (!(target instanceof Refused)) bad(`cannot set the state of ${kindOf(target)}`);
        break;
      }
      case 0x50: // PERSID
      case 0x51: {
        // BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!options.persistentLoad) bad('persistent ids are not expected here');
        stack.push(options.persistentLoad!(pid, opAt));
        break;
      }
      default:
        bad('not a pickle opcode: the data is corrupt (or not a pickle)');
    }
  }
}

function parseIndex(text: string, bad: (r: string) => never): number {
  const t = text.trim();
  if (!/^\d{1,9}$/.test(t)) bad(`"${t.slice(0, 40)}" is not a memo index`);
  return Number(t);
}

/** Protocol 0's STRING argument: a quoted Python 2 str repr. */
function decodeStringRepr(text: string, bad: (r: string) => never): string {
  const t = text.trimEnd();
  const q = t[0];
  if (t.length < 2 || (q !== "'" && q !== '"') || t[t.length - 1] !== q) bad('STRING argument is not quoted');
  const body = t.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = body[++i];
    switch (n) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
      case "'":
      case '"':
        out += n;
        break;
      case 'x': {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) bad(`bad \\x escape in STRING`);
        out += String.fromCharCode(parseInt(h, 16));
        i += 2;
        break;
      }
      default: {
        const o = /^[0-7]{1,3}/.exec(body.slice(i));
        if (!o) bad(`unsupported escape \\${n ?? ''} in STRING`);
        out += String.fromCharCode(parseInt(o![0], 8) & 0xff);
        i += o![0].length - 1;
      }
    }
  }
  return out;
}

/** Protocol 0's UNICODE argument: raw-unicode-escape (\uXXXX and \UXXXXXXXX only). */
function decodeRawUnicodeEscape(text: string, bad: (r: string) => never): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt((u4 ?? u8)!, 16);
    if (cp > 0x10ffff) bad(`code point ${cp} is out of range`);
    return String.fromCodePoint(cp);
  });
}
