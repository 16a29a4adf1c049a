#!/usr/bin/env node
/** `unias-serve`: the standalone server. See `unias-serve --help`. */
import { parseServeArgs, USAGE, UsageError } from './cli-args.js';
import { serveUntilSignal } from './serve-process.js';

async function main(): Promise<void> {
  let command;
  try {
    command = parseServeArgs(process.argv.slice(2));
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
