import { readFileSync } from 'node:fs';
import type { CommandEntry } from './command.js';
import { isUserFacing, UsageError } from './errors.js';

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'demo',
    summary: 'generate a synthetic dataset, train, evaluate and report (the README demo)',
    load: async () => (await import('./commands/demo.js')).command,
  },
  { name: 'train', summary: 'train a unified model on one or more datasets', load: async () => (await import('./commands/train.js')).command },
  {
    name: 'eval',
    summary: 'evaluate a trained model: metrics table, metrics.json, HTML report',
    load: async () => (await import('./commands/eval.js')).command,
  },
  { name: 'predict', summary: 'anomaly maps, scores and masks for images or folders', load: async () => (await import('./commands/predict.js')).command },
  {
    name: 'export',
    summary: 'export to ONNX, a Triton/KServe repository or official-layout safetensors',
    load: async () => (await import('./commands/export.js')).command,
  },
  { name: 'metrics', summary: "metrics of any model's maps stored in a safetensors file", load: async () => (await import('./commands/metrics.js')).command },
  {
    name: 'weights',
    summary: 'list, download, verify and cache known pretrained backbone weights',
    load: async () => (await import('./commands/weights.js')).command,
  },
  {
    name: 'doctor',
    summary: 'runtimes and devices found here (onnxruntime providers, Vulkan, CUDA, tfjs) and what to install',
    load: async () => (await import('./commands/doctor.js')).command,
  },
  {
    name: 'serve',
    summary: 'serve exported models over HTTP (KServe v2, /predict, a browser page)',
    load: async () => (await import('./commands/serve.js')).command,
  },
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: unias <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'options for every command: --debug (show stack traces), --help',
    "run `unias <command> --help` for a command's options.",
  ].join('\n');
}

/** Runs the CLI; returns the exit code. Output goes to stdout/stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  try {
    const [name, ...rest] = args;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${helpText()}\n`);
      return name ? 0 : 2;
    }
    if (name === '--version' || name === '-v') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${command.usage}\n`);
      return 0;
    }
    const code = await command.run(rest);
    return code ?? 0;
  } catch (e) {
    if (debug) {
      process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    } else if (isUserFacing(e)) {
      process.stderr.write(`unias: ${(e as Error).message.split('\n')[0]}\n`);
      if (e instanceof UsageError) process.stderr.write('run `unias --help` for usage\n');
    } else {
      process.stderr.write(`unias: internal error: ${(e as Error)?.message ?? String(e)}\n(run again with --debug for the stack trace)\n`);
    }
    return e instanceof UsageError ? 2 : 1;
  }
}
