/** Typed access to parsed command-line options, with errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';
import { closest } from '@unias/engine';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  readonly positionals: string[];
}

export function parse(argv: readonly string[], options: OptionSpec, allowPositionals = false): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (e) {
    let message = (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '');
    const unknown = /^Unknown option '(--?[^']+)'/.exec(message);
    if (unknown) {
      const name = unknown[1]!.replace(/^-+/, '');
      const near = closest(name, Object.keys(options));
      message = `unknown option ${unknown[1]}${near !== undefined ? `; did you mean "--${near}"?` : ''}`;
    }
    const ambiguous = /^Option '(--?[^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) message = `${ambiguous[1]} takes a value; write ${ambiguous[1]}=VALUE when the value starts with "-"`;
    throw new UsageError(message.split('\n')[0]!);
  }
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`);
  return v;
}

export function requireStr(args: ParsedArgs, name: string): string {
  const v = str(args, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => {
    if (typeof x !== 'string') throw new UsageError(`--${name} takes a value`);
    return x;
  });
}

export function num(args: ParsedArgs, name: string, check: { int?: boolean; min?: number; max?: number } = {}): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (check.int && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${check.int ? 'an integer' : 'a number'}, got "${v}"`);
  }
  if (check.min !== undefined && n < check.min) throw new UsageError(`--${name} must be >= ${check.min}, got ${n}`);
  if (check.max !== undefined && n > check.max) throw new UsageError(`--${name} must be <= ${check.max}, got ${n}`);
  return n;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
