/**
 * The protobuf text format (what Triton's `config.pbtxt` is written in), read against a message
 * type of a protobufjs schema: every field name, value type, enum name, repeated/singular rule,
 * oneof and map entry is checked against the schema while parsing, so a file that would not parse
 * into the schema's message is refused here with its line and column.
 *
 * Grammar (protobuf's text format specification): fields `name: scalar`, `name [:] { ... }` or
 * `< ... >` for messages, `name [:] [ v, ... ]` lists for repeated fields, `,`/`;` separators,
 * `#` comments, single- or double-quoted strings (adjacent ones concatenate) with C escapes,
 * decimal/octal/hex integers, floats (`1.5`, `1e3`, `2f`, `inf`, `nan`), enum values by name or
 * number, `true`/`false`/`t`/`f`/`1`/`0` booleans, map fields as repeated `{ key: ... value: ... }`.
 * Extensions and `Any` expansions (`[type.googleapis.com/...]`) are not part of ModelConfig and are refused.
 */
import protobuf from 'protobufjs';

export class TextFormatError extends Error {
  override readonly name = 'TextFormatError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly source: string,
  ) {
    super(`${source}:${line}:${column}: ${reason}`);
  }
}

type TokenType = 'ident' | 'string' | 'number' | 'punct';
interface Token {
  readonly type: TokenType;
  readonly text: string;
  /** Decoded bytes of a string token (UTF-8), before concatenation. */
  readonly bytes?: Uint8Array;
  readonly line: number;
  readonly column: number;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (reason: string, at: number): never => {
    throw new TextFormatError(reason, line, at - lineStart + 1, source);
  };
  while (i < text.length) {
    const ch = text[i]!;
    const column = i - lineStart + 1;
    if (ch === '\n') {
      line++;
      i++;
      lineStart = i;
    } else if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if ('{}[]<>:,;'.includes(ch)) {
      tokens.push({ type: 'punct', text: ch, line, column });
      i++;
    } else if (ch === '"' || ch === "'") {
      const start = i;
      const bytes: number[] = [];
      const utf8 = new TextEncoder();
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail('unterminated string', start);
        const c = text[i]!;
        if (c === ch) break;
        if (c !== '\\') {
          const cp = text.codePointAt(i)!;
          const s = String.fromCodePoint(cp);
          bytes.push(...utf8.encode(s));
          i += s.length;
          continue;
        }
        const e = text[i + 1] ?? '';
        if (e in SIMPLE_ESCAPES) {
          bytes.push(SIMPLE_ESCAPES[e]!);
          i += 2;
        } else if (/[0-7]/.test(e)) {
          const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
          const v = parseInt(m, 8);
          if (v > 255) fail(`octal escape \\${m} is larger than a byte`, i);
          bytes.push(v);
          i += 1 + m.length;
        } else if (e === 'x' || e === 'X') {
          const m = /^[0-9A-Fa-f]{1,2}/.exec(text.slice(i + 2));
          if (!m) fail('\\x needs hex digits', i);
          bytes.push(parseInt(m![0], 16));
          i += 2 + m![0].length;
        } else if (e === 'u' || e === 'U') {
          const n = e === 'u' ? 4 : 8;
          const hex = text.slice(i + 2, i + 2 + n);
          if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) fail(`\\${e} needs ${n} hex digits`, i);
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail(`\\${e}${hex} is not a Unicode scalar value`, i);
          bytes.push(...utf8.encode(String.fromCodePoint(cp)));
          i += 2 + n;
        } else {
          fail(`unknown escape \\${e}`, i);
        }
      }
      i++;
      tokens.push({ type: 'string', text: text.slice(start, i), bytes: Uint8Array.from(bytes), line, column });
    } else if (/[0-9.+-]/.test(ch)) {
      const m = /^[-+]?(0[xX][0-9A-Fa-f]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[fF]?|inf(inity)?|nan)/i.exec(text.slice(i));
      if (!m || m[0] === '-' || m[0] === '+') fail(`unexpected "${ch}"`, i);
      const after = text[i + m![0].length];
      if (after !== undefined && /[A-Za-z0-9_]/.test(after)) fail(`malformed number "${m![0]}${after}"`, i);
      tokens.push({ type: 'number', text: m![0], line, column });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      // Dotted names only appear in extension names ([pkg.ext]); a field or enum spelled so is reported as unknown.
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))![0];
      tokens.push({ type: 'ident', text: m, line, column });
      i += m.length;
    } else {
      fail(`unexpected character ${JSON.stringify(ch)}`, i);
    }
  }
  return tokens;
}

/** A parsed message: field name -> value (repeated: array; map: object keyed by the key's text). */
export type TextObject = { [field: string]: unknown };

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

class Parser {
  private at = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly source: string,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private fail(reason: string, token = this.peek() ?? this.tokens[this.tokens.length - 1]): never {
    throw new TextFormatError(reason, token?.line ?? 1, token?.column ?? 1, this.source);
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t?.type === 'punct' && t.text === p;
  }

  private expect(p: string): void {
    if (!this.isPunct(p)) this.fail(`expected "${p}"${this.peek() ? `, got "${this.peek()!.text}"` : ' before the end of the text'}`);
    this.at++;
  }

  /** Fields of `type` until `end` (or the end of the text for the top level). */
  message(type: protobuf.Type, end: string | null): TextObject {
    const out: TextObject = {};
    const seenOneof = new Map<string, string>();
    for (;;) {
      const t = this.peek();
      if (t === undefined) {
        if (end !== null) this.fail(`expected "${end}" before the end of the text`);
        break;
      }
      if (end !== null && t.type === 'punct' && t.text === end) break;
      if (t.type === 'punct' && t.text === '[') this.fail('extension and Any fields ([...]) are not part of this schema');
      if (t.type !== 'ident') this.fail(`expected a field name, got "${t.text}"`);
      const field = type.fields[t.text];
      if (field === undefined) {
        this.fail(`${type.fullName.replace(/^\./, '')} has no field "${t.text}" (fields: ${Object.keys(type.fields).join(', ')})`, t);
      }
      this.at++;
      field.resolve();
      const oneof = field.partOf;
      if (oneof) {
        const other = seenOneof.get(oneof.name);
        if (other !== undefined && other !== field.name)
          this.fail(`"${field.name}" and "${other}" are both set, but they are alternatives (oneof ${oneof.name})`, t);
        seenOneof.set(oneof.name, field.name);
      }
      this.fieldValue(type, field, out, t);
      if (this.isPunct(',') || this.isPunct(';')) this.at++;
    }
    return out;
  }

  private fieldValue(type: protobuf.Type, field: protobuf.Field, out: TextObject, nameToken: Token): void {
    const isMessage = field.resolvedType instanceof protobuf.Type || field instanceof protobuf.MapField;
    const colon = this.isPunct(':');
    if (colon) this.at++;
    else if (!isMessage) this.fail(`expected ":" after field "${field.name}"`);
    const repeated = field.repeated || field instanceof protobuf.MapField;
    if (this.isPunct('[')) {
      if (!repeated) this.fail(`field "${field.name}" of ${type.name} is not repeated; a list [...] is not allowed`);
      this.at++;
      const values: unknown[] = [];
      while (!this.isPunct(']')) {
        values.push(this.single(field));
        if (this.isPunct(',')) {
          this.at++;
          if (this.isPunct(']')) this.fail('a list may not end with ","');
        } else if (!this.isPunct(']')) this.fail('expected "," or "]"');
      }
      this.at++;
      for (const v of values) this.store(type, field, out, v, nameToken);
      return;
    }
    this.store(type, field, out, this.single(field), nameToken);
  }

  private store(type: protobuf.Type, field: protobuf.Field, out: TextObject, value: unknown, nameToken: Token): void {
    if (field instanceof protobuf.MapField) {
      const entry = value as { key?: unknown; value?: unknown };
      const key = String(entry.key ?? (field.keyType === 'string' ? '' : 0));
      const map = (out[field.name] ??= {}) as Record<string, unknown>;
      // Duplicate keys: the last one wins in protobuf's parser.
      map[key] = entry.value ?? (field.resolvedType instanceof protobuf.Type ? {} : defaultScalar(field.type));
      return;
    }
    if (field.repeated) {
      ((out[field.name] ??= []) as unknown[]).push(value);
      return;
    }
    if (Object.hasOwn(out, field.name)) this.fail(`field "${field.name}" of ${type.name} is set twice`, nameToken);
    out[field.name] = value;
  }

  private single(field: protobuf.Field): unknown {
    if (field instanceof protobuf.MapField) {
      const open = this.openBrace(field.name);
      const entry: TextObject = {};
      const close = open === '{' ? '}' : '>';
      while (!this.isPunct(close)) {
        const t = this.peek();
        if (t === undefined) this.fail(`expected "${close}" before the end of the text`);
        if (t!.type !== 'ident' || (t!.text !== 'key' && t!.text !== 'value'))
          this.fail(`a map entry of "${field.name}" has only "key" and "value", got "${t!.text}"`);
        if (Object.hasOwn(entry, t!.text)) this.fail(`"${t!.text}" is set twice in a map entry of "${field.name}"`);
        this.at++;
        if (t!.text === 'key') {
          this.expect(':');
          entry['key'] = this.scalar(field.keyType, null, field.name);
        } else {
          const resolved = field.resolvedType;
          if (resolved instanceof protobuf.Type) {
            if (this.isPunct(':')) this.at++;
            entry['value'] = this.nested(resolved, field.name);
          } else {
            this.expect(':');
            entry['value'] = this.scalar(field.type, resolved, field.name);
          }
        }
        if (this.isPunct(',') || this.isPunct(';')) this.at++;
      }
      this.at++;
      return entry;
    }
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.nested(resolved, field.name);
    return this.scalar(field.type, resolved, field.name);
  }

  private openBrace(what: string): '{' | '<' {
    if (this.isPunct('{') || this.isPunct('<')) {
      const p = this.peek()!.text as '{' | '<';
      this.at++;
      return p;
    }
    return this.fail(`expected "{" to open message "${what}"`);
  }

  private nested(type: protobuf.Type, what: string): TextObject {
    const open = this.openBrace(what);
    const value = this.message(type, open === '{' ? '}' : '>');
    this.expect(open === '{' ? '}' : '>');
    return value;
  }

  private scalar(kind: string, resolved: protobuf.Type | protobuf.Enum | null, what: string): unknown {
    const t = this.peek();
    if (t === undefined) return this.fail(`expected a value for "${what}" before the end of the text`);
    if (resolved instanceof protobuf.Enum) {
      if (t.type === 'ident') {
        if (!Object.hasOwn(resolved.values, t.text))
          this.fail(`"${t.text}" is not a value of enum ${resolved.name} (${Object.keys(resolved.values).join(', ')})`);
        this.at++;
        return t.text;
      }
      if (t.type === 'number' && /^-?\d+$/.test(t.text)) {
        const n = Number(t.text);
        const name = resolved.valuesById[n];
        if (name === undefined) this.fail(`${t.text} is not a value of enum ${resolved.name}`);
        this.at++;
        return name;
      }
      return this.fail(`expected a ${resolved.name} value for "${what}", got "${t.text}"`);
    }
    switch (kind) {
      case 'string':
      case 'bytes': {
        if (t.type !== 'string') this.fail(`expected a quoted string for "${what}", got "${t.text}"`);
        const parts: Uint8Array[] = [];
        while (this.peek()?.type === 'string') parts.push(this.tokens[this.at++]!.bytes!);
        const bytes = Buffer.concat(parts);
        if (kind === 'bytes') return bytes.toString('base64');
        const decoded = new TextDecoder('utf-8', { fatal: true });
        try {
          return decoded.decode(bytes);
        } catch {
          return this.fail(`the string for "${what}" is not valid UTF-8`, t);
        }
      }
      case 'bool': {
        const v = { true: true, True: true, t: true, '1': true, false: false, False: false, f: false, '0': false }[t.text];
        if (v === undefined || (t.type !== 'ident' && t.type !== 'number')) this.fail(`expected true or false for "${what}", got "${t.text}"`);
        this.at++;
        return v;
      }
      case 'float':
      case 'double': {
        let v: number;
        if (t.type === 'ident' && /^(inf|infinity|nan)$/i.test(t.text)) v = /nan/i.test(t.text) ? NaN : Infinity;
        else if (t.type === 'number') v = parseFloatToken(t.text);
        else return this.fail(`expected a number for "${what}", got "${t.text}"`);
        this.at++;
        return v;
      }
      default: {
        const range = INT_RANGES[kind];
        if (range === undefined) return this.fail(`field type ${kind} of "${what}" is not supported`);
        if (t.type !== 'number') this.fail(`expected an integer for "${what}", got "${t.text}"`);
        const v = parseIntToken(t.text);
        if (v === null) this.fail(`expected an integer for "${what}", got "${t.text}"`);
        if (v! < range[0] || v! > range[1]) this.fail(`${t.text} is out of range for ${kind} "${what}"`);
        if (v! > BigInt(Number.MAX_SAFE_INTEGER) || v! < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`${t.text} for "${what}" is too large to handle exactly`);
        this.at++;
        return Number(v);
      }
    }
  }
}

function defaultScalar(kind: string): unknown {
  if (kind === 'string' || kind === 'bytes') return '';
  if (kind === 'bool') return false;
  return 0;
}

function parseIntToken(text: string): bigint | null {
  const m = /^([-+]?)(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9]\d*)$/.exec(text);
  if (!m) return null;
  const body = m[2]!;
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body.startsWith('0')) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  return m[1] === '-' ? -v : v;
}

function parseFloatToken(text: string): number {
  const t = text.replace(/[fF]$/, '');
  if (/^[-+]?0[xX]/.test(t)) return Number(parseIntToken(t));
  if (/inf/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/nan/i.test(t)) return NaN;
  return Number(t);
}

/**
 * Parses text-format `text` as a message of `type`; `source` names the file in errors. The result
 * is also run through protobufjs (`fromObject`, `verify`, binary encode and decode), so what comes
 * back is a message the schema's binary form holds.
 */
export function parseTextFormat(type: protobuf.Type, text: string, source = '<text>'): TextObject {
  const parser = new Parser(tokenize(text, source), source);
  const value = parser.message(type, null);
  const message = type.fromObject(value);
  const problem = type.verify(message);
  if (problem !== null) throw new TextFormatError(`does not fit ${type.name}: ${problem}`, 1, 1, source);
  type.decode(type.encode(message).finish());
  return value;
}
