#!/usr/bin/env node
import { main } from './main.js';
import { restartWithHugePages, runsModels } from './huge-pages-respawn.js';

/** The command itself, or (commands that run models, where THP is madvise) a child of it with huge pages. */
async function run(argv: readonly string[]): Promise<number> {
  if (runsModels(argv)) {
    const code = await restartWithHugePages();
    if (code !== undefined) return code;
  }
  return main(argv);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`unias: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
