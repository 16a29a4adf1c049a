/**
 * The subset of the protobuf text format that Triton's config.pbtxt uses: fields with scalars
 * (numbers, quoted strings, enum identifiers), nested messages `name { ... }`, lists
 * `name: [ ... ]` of scalars or messages, `#` comments. `formatTextMessage` writes it;
 * `parseTextMessage` reads it back into the same structure.
 */

export interface TextIdent {
  readonly kind: 'ident';
  readonly name: string;
}

export interface TextMessage {
  readonly kind: 'message';
  readonly fields: ReadonlyArray<readonly [string, TextValue]>;
}

export type TextValue = number | string | TextIdent | TextMessage | readonly TextValue[];

export const ident = (name: string): TextIdent => ({ kind: 'ident', name });
export const message = (...fields: ReadonlyArray<readonly [string, TextValue] | null>): TextMessage => ({
  kind: 'message',
  fields: fields.filter((f): f is readonly [string, TextValue] => f !== null),
});

const isMessage = (v: TextValue): v is TextMessage => typeof v === 'object' && !Array.isArray(v) && (v as TextMessage).kind === 'message';
const isIdent = (v: TextValue): v is TextIdent => typeof v === 'object' && !Array.isArray(v) && (v as TextIdent).kind === 'ident';

/** A quoted string: backslash escapes for quotes, backslashes and control characters (UTF-8 stays as is). */
export function quote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function scalarText(v: TextValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`text format: ${v} is not a finite number`);
    return String(v);
  }
  if (typeof v === 'string') return quote(v);
  if (isIdent(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) throw new Error(`text format: "${v.name}" is not an identifier`);
    return v.name;
  }
  throw new Error('text format: not a scalar');
}

function formatFields(m: TextMessage, indent: string, lines: string[]): void {
  for (const [name, value] of m.fields) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`text format: "${name}" is not a field name`);
    if (isMessage(value)) {
      lines.push(`${indent}${name} {`);
      formatFields(value, `${indent}  `, lines);
      lines.push(`${indent}}`);
    } else if (Array.isArray(value)) {
      const items = value as readonly TextValue[];
      if (items.some((v) => isMessage(v))) {
        if (!items.every((v) => isMessage(v))) throw new Error(`text format: list "${name}" mixes messages and scalars`);
        lines.push(`${indent}${name} [`);
        items.forEach((item, i) => {
          lines.push(`${indent}  {`);
          formatFields(item as TextMessage, `${indent}    `, lines);
          lines.push(`${indent}  }${i < items.length - 1 ? ',' : ''}`);
        });
        lines.push(`${indent}]`);
      } else {
        lines.push(`${indent}${name}: [ ${items.map(scalarText).join(', ')}${items.length > 0 ? ' ' : ''}]`);
      }
    } else {
      lines.push(`${indent}${name}: ${scalarText(value)}`);
    }
  }
}

export function formatTextMessage(m: TextMessage): string {
  const lines: string[] = [];
  formatFields(m, '', lines);
  return `${lines.join('\n')}\n`;
}

export class TextFormatError extends Error {
  constructor(message: string, line: number, column: number, source?: string) {
    super(`${source ? `${source}:` : ''}${line}:${column}: ${message}`);
    this.name = 'TextFormatError';
  }
}

type Token =
  | { readonly type: 'punct'; readonly value: string; readonly line: number; readonly column: number }
  | { readonly type: 'string'; readonly value: string; readonly line: number; readonly column: number }
  | { readonly type: 'number'; readonly value: number; readonly line: number; readonly column: number }
  | { readonly type: 'ident'; readonly value: string; readonly line: number; readonly column: number };

function tokenize(text: string, source?: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (msg: string, at = i): never => {
    throw new TextFormatError(msg, line, at - lineStart + 1, source);
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') {
      line += 1;
      lineStart = i + 1;
      i += 1;
    } else if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if ('{}[]:,;'.includes(ch)) {
      tokens.push({ type: 'punct', value: ch, line, column: i - lineStart + 1 });
      i += 1;
    } else if (ch === '"' || ch === "'") {
      const start = i;
      let value = '';
      i += 1;
      for (;;) {
        if (i >= text.length || text[i] === '\n') fail('unterminated string', start);
        const c = text[i]!;
        if (c === ch) break;
        if (c === '\\') {
          const e = text[i + 1];
          const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', "'": "'", '\\': '\\' };
          if (e !== undefined && e in simple) {
            value += simple[e];
            i += 2;
          } else if (e !== undefined && /[0-7]/.test(e)) {
            const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))!;
            value += String.fromCharCode(parseInt(m[0], 8));
            i += 1 + m[0].length;
          } else {
            fail(`unknown escape \\${e ?? ''}`);
          }
        } else {
          value += c;
          i += 1;
        }
      }
      i += 1;
      tokens.push({ type: 'string', value, line, column: start - lineStart + 1 });
    } else if (/[-+0-9.]/.test(ch)) {
      const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i));
      if (!m) fail(`unexpected "${ch}"`);
      tokens.push({ type: 'number', value: Number(m![0]), line, column: i - lineStart + 1 });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))!;
      tokens.push({ type: 'ident', value: m[0], line, column: i - lineStart + 1 });
      i += m[0].length;
    } else {
      fail(`unexpected "${ch}"`);
    }
  }
  return tokens;
}

/** Parses config.pbtxt-style text into fields in order (a list keeps its elements as an array). */
export function parseTextMessage(text: string, source?: string): TextMessage {
  const tokens = tokenize(text, source);
  let at = 0;
  const peek = () => tokens[at];
  const fail = (msg: string): never => {
    const t = tokens[at] ?? tokens[tokens.length - 1];
    throw new TextFormatError(msg, t?.line ?? 1, t?.column ?? 1, source);
  };
  const isPunct = (v: string) => {
    const t = peek();
    return t?.type === 'punct' && t.value === v;
  };
  const expect = (v: string) => {
    if (!isPunct(v)) fail(`expected "${v}"`);
    at += 1;
  };

  const scalar = (): TextValue => {
    const t = peek();
    if (!t) return fail('unexpected end of text');
    if (t.type === 'string' || t.type === 'number') {
      at += 1;
      return t.value;
    }
    if (t.type === 'ident') {
      at += 1;
      return ident(t.value);
    }
    return fail(`expected a value, got "${t.value}"`);
  };

  const value = (): TextValue => {
    if (isPunct('{')) {
      at += 1;
      const m = fields('}');
      expect('}');
      return m;
    }
    if (isPunct('[')) {
      at += 1;
      const items: TextValue[] = [];
      while (!isPunct(']')) {
        items.push(value());
        if (isPunct(',')) at += 1;
        else if (!isPunct(']')) fail('expected "," or "]"');
      }
      at += 1;
      return items;
    }
    return scalar();
  };

  const fields = (end: string | null): TextMessage => {
    const out: Array<readonly [string, TextValue]> = [];
    while (peek() && !(end !== null && isPunct(end))) {
      const t = peek()!;
      if (t.type !== 'ident') fail(`expected a field name, got ${JSON.stringify(t.value)}`);
      at += 1;
      if (isPunct(':')) {
        at += 1;
      } else if (!isPunct('{') && !isPunct('[')) {
        fail(`expected ":" after field "${t.value}"`);
      }
      out.push([t.value as string, value()]);
      if (isPunct(',') || isPunct(';')) at += 1;
    }
    if (end !== null && !peek()) fail(`expected "${end}" before the end of the text`);
    return { kind: 'message', fields: out };
  };

  const root = fields(null);
  if (at < tokens.length) fail('unexpected text after the message');
  return root;
}

/** Every value of a field (a list contributes its elements), in order. */
export function fieldValues(m: TextMessage, name: string): TextValue[] {
  const out: TextValue[] = [];
  for (const [n, v] of m.fields) if (n === name) out.push(...(Array.isArray(v) ? (v as readonly TextValue[]) : [v]));
  return out;
}

/** The single value of a field; absent or repeated is an error. */
export function fieldValue(m: TextMessage, name: string): TextValue {
  const all = m.fields.filter(([n]) => n === name);
  if (all.length !== 1) throw new Error(`text message: field "${name}" appears ${all.length} times, expected once`);
  return all[0]![1];
}
