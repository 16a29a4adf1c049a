/**
 * A small schema for configuration files: types, ranges, enums and known keys, checked with
 * errors that name the file and the dotted path of the field ("train.lr: expected a number > 0,
 * got \"fast\""). Unknown keys are errors that suggest the closest known key.
 */
import { EngineInputError } from '../errors.js';
import { suggestion } from './suggest.js';

export type Schema =
  | { readonly kind: 'number'; readonly int?: boolean; readonly min?: number; readonly max?: number; readonly exclusiveMin?: boolean }
  | { readonly kind: 'string'; readonly values?: readonly string[] }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'array'; readonly of: Schema; readonly length?: number }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Schema>> }
  | { readonly kind: 'oneOf'; readonly options: readonly Schema[]; readonly description: string };

export const num = (o: Omit<Extract<Schema, { kind: 'number' }>, 'kind'> = {}): Schema => ({ kind: 'number', ...o });
export const int = (o: Omit<Extract<Schema, { kind: 'number' }>, 'kind' | 'int'> = {}): Schema => ({ kind: 'number', int: true, ...o });
export const str = (values?: readonly string[]): Schema => (values ? { kind: 'string', values } : { kind: 'string' });
export const bool: Schema = { kind: 'boolean' };
export const arr = (of: Schema, length?: number): Schema => (length !== undefined ? { kind: 'array', of, length } : { kind: 'array', of });
export const obj = (fields: Record<string, Schema>): Schema => ({ kind: 'object', fields });
export const oneOf = (description: string, ...options: Schema[]): Schema => ({ kind: 'oneOf', options, description });

export class ConfigFileError extends EngineInputError {
  constructor(source: string, path: string, message: string) {
    super(`${source}: ${path ? `${path}: ` : ''}${message}`);
    this.name = 'ConfigFileError';
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function describe(s: Schema): string {
  switch (s.kind) {
    case 'number': {
      const what = s.int ? 'an integer' : 'a number';
      const lo = s.min !== undefined ? ` ${s.exclusiveMin ? '>' : '>='} ${s.min}` : '';
      const hi = s.max !== undefined ? `${lo ? ' and' : ''} <= ${s.max}` : '';
      return `${what}${lo}${hi}`;
    }
    case 'string':
      return s.values ? `one of ${s.values.map((v) => `"${v}"`).join(', ')}` : 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return s.length !== undefined ? `a list of ${s.length} items` : 'a list';
    case 'object':
      return 'a mapping';
    case 'oneOf':
      return s.description;
  }
}

function fits(value: unknown, s: Schema): boolean {
  try {
    check(value, s, '', '');
    return true;
  } catch {
    return false;
  }
}

/** Throws a ConfigFileError for the first problem found. */
export function check(value: unknown, s: Schema, source: string, path: string): void {
  const fail = (msg: string): never => {
    throw new ConfigFileError(source, path, msg);
  };
  switch (s.kind) {
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value) || (s.int && !Number.isInteger(value))) fail(`expected ${describe(s)}, got ${show(value)}`);
      const v = value as number;
      if (s.min !== undefined && (s.exclusiveMin ? v <= s.min : v < s.min)) fail(`expected ${describe(s)}, got ${v}`);
      if (s.max !== undefined && v > s.max) fail(`expected ${describe(s)}, got ${v}`);
      return;
    }
    case 'string':
      if (typeof value !== 'string') fail(`expected ${describe(s)}, got ${show(value)}`);
      if (s.values && !s.values.includes(value as string)) fail(`unknown value ${show(value)}${suggestion(value as string, s.values)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail(`expected true or false, got ${show(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) fail(`expected ${describe(s)}, got ${show(value)}`);
      if (s.length !== undefined && (value as unknown[]).length !== s.length) fail(`expected ${s.length} items, got ${(value as unknown[]).length}`);
      (value as unknown[]).forEach((v, i) => check(v, s.of, source, `${path}[${i}]`));
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        fail(`expected a mapping of ${Object.keys(s.fields).join(', ')}, got ${show(value)}`);
      const known = Object.keys(s.fields);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const sub = s.fields[k];
        const at = path ? `${path}.${k}` : k;
        if (!sub) throw new ConfigFileError(source, '', `unknown key "${at}"${suggestion(k, known)}`);
        if (v === null || v === undefined) continue; // null = use the default
        check(v, sub, source, at);
      }
      return;
    }
    case 'oneOf':
      if (!s.options.some((o) => fits(value, o))) fail(`expected ${s.description}, got ${show(value)}`);
      return;
  }
}

/** Every dotted path of leaf fields (for `--set` and suggestions). */
export function leafPaths(s: Schema, prefix = ''): string[] {
  if (s.kind !== 'object') return [prefix];
  return Object.entries(s.fields).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** The schema at a dotted path, or undefined. */
export function schemaAt(s: Schema, path: string): Schema | undefined {
  let cur: Schema | undefined = s;
  for (const part of path.split('.')) {
    if (!cur || cur.kind !== 'object') return undefined;
    cur = cur.fields[part];
  }
  return cur;
}
