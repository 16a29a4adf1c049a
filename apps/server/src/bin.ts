#!/usr/bin/env node
/** `unias-serve`: the standalone server. See `unias-serve --help`. */
import { readFileSync } from 'node:fs';
import { parseServeArgs, USAGE, UsageError } from './cli-args.js';
import { serveUntilSignal } from './serve-process.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    // package.json is one folder up from both src/ and dist/
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  let command;
  try {
    command = parseServeArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`unias-serve: ${e.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw e;
  }
  if (command.help) {
    process.stdout.write(USAGE);
    return;
  }
  try {
    await serveUntilSignal(command.options);
  } catch (e) {
    process.stderr.write(`unias-serve: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

void main();
