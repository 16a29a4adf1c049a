#!/usr/bin/env node
import { main } from './main.js';
import { findSetpriv, RESPAWNED_COMMANDS, runWithHugePages, shouldRespawn } from './huge-pages-respawn.js';

/** The command itself, or (commands that run models, where THP is madvise) a child of it with huge pages. */
async function run(argv: readonly string[]): Promise<number> {
  if (argv.some((a) => RESPAWNED_COMMANDS.has(a))) {
    const { hugePageStatus, withHugePages } = await import('@unias/backend-onnx');
    const setpriv = findSetpriv();
    if (setpriv && shouldRespawn(argv, hugePageStatus(), setpriv)) {
      const code = await runWithHugePages(setpriv, withHugePages);
      if (code !== undefined) return code;
    }
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
