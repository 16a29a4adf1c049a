import { parseServeArgs, serveUntilSignal, SERVE_USAGE } from '@unias/server';
import type { Command } from '../command.js';
import { UsageError, UserError } from '../errors.js';

const USAGE = `usage: unias serve --model FILE.onnx [--model NAME=FILE.onnx ...] [--port N] [options]

Serves exported models (\`unias export --format onnx\`) with @unias/server: KServe v2 (/v2/...),
POST /predict (an image in; map, score and mask out), a browser page at /, Prometheus metrics at
/metrics. Stops gracefully on SIGINT/SIGTERM. The options are those of unias-serve:

${SERVE_USAGE.split('\n').slice(1).join('\n')}`;

export const command: Command = {
  name: 'serve',
  summary: 'serve exported models over HTTP (KServe v2, /predict, a browser page)',
  usage: USAGE,
  async run(argv) {
    let parsed;
    try {
      parsed = parseServeArgs(argv);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (parsed.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    let info;
    try {
      ({ info } = await serveUntilSignal(parsed.options));
    } catch (e) {
      throw new UserError((e as Error).message.split('\n')[0]!);
    }
    process.stderr.write(`serving on ${info.url} (Ctrl-C to stop)\n`);
    // serveUntilSignal exits the process on SIGINT/SIGTERM once in-flight requests are done.
    return new Promise<number>(() => undefined);
  },
};
