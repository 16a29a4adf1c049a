/**
 * The commands that run models start themselves again with huge pages where an environment
 * variable is all it takes (THP madvise, glibc 2.35+: see hugePageStatus in @unias/backend-onnx).
 * glibc reads the tunable only when a process starts, hence a child: same arguments, stdio and
 * process group. It dies with this process (setpriv --pdeathsig KILL: a killed `unias train` must
 * not leave a trainer writing checkpoints behind it). SIGTERM and SIGHUP are passed on; SIGINT only
 * where it did not come from a terminal, whose Ctrl-C reaches the whole foreground group, child
 * included (`unias train` reads a second SIGINT as "stop now").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isatty } from 'node:tty';
import { constants } from 'node:os';
import type { HugePageStatus } from '@unias/backend-onnx';

export const RESPAWNED_COMMANDS: ReadonlySet<string> = new Set(['demo', 'train', 'eval', 'predict', 'export', 'serve', 'doctor']);
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

export function findSetpriv(): string | undefined {
  return SETPRIV.find((p) => existsSync(p));
}

/** Whether `unias ARGV` is a command that runs models (the ones worth a child with huge pages). */
export function runsModels(argv: readonly string[]): boolean {
  const name = argv.find((a) => !a.startsWith('-'));
  return name !== undefined && RESPAWNED_COMMANDS.has(name) && !argv.includes('--help') && !argv.includes('-h');
}

/** Whether a child of this process would get huge pages it lacks (and can be tied to it). */
export function canRestart(status: HugePageStatus, setpriv: string | undefined): setpriv is string {
  return status.canEnable && setpriv !== undefined;
}

/**
 * This process's command line again in a child with huge pages, where that is possible and this
 * process has none; resolves with the child's exit code, or undefined when no child ran (the
 * caller then does the work itself).
 */
export async function restartWithHugePages(): Promise<number | undefined> {
  const setpriv = findSetpriv();
  if (setpriv === undefined) return undefined;
  const { hugePageStatus, withHugePages } = await import('@unias/backend-onnx');
  return canRestart(hugePageStatus(), setpriv) ? runWithHugePages(setpriv, withHugePages) : undefined;
}

/**
 * Runs this same command line in a child with huge pages; resolves with its exit code, or with
 * undefined when the child could not be started (nothing ran: the caller runs the command itself).
 */
export async function runWithHugePages(setpriv: string, withHugePages: (env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv): Promise<number | undefined> {
  const child = spawn(setpriv, ['--pdeathsig', 'KILL', '--', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: withHugePages(process.env),
  });
  const pass = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGTERM', pass('SIGTERM')],
    ['SIGHUP', pass('SIGHUP')],
    ['SIGINT', isatty(0) || isatty(2) ? () => {} : pass('SIGINT')],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  let ended: [number | null, NodeJS.Signals | null] | undefined;
  try {
    ended = await new Promise((resolve) => {
      child.once('error', () => resolve(undefined));
      child.once('exit', (c, s) => resolve([c, s]));
    });
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  if (ended === undefined) return undefined;
  const [code, signal] = ended;
  if (signal === null) return code ?? 1;
  // end the way the child ended (the handlers are off), so that a shell sees the signal
  process.kill(process.pid, signal);
  return 128 + (constants.signals[signal] ?? 0);
}
