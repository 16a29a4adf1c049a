import { stat } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { exportModel, loadModelFiles } from '@unias/exporters';
import { parseServeArgs, serveUntilSignal, SERVE_USAGE } from '@unias/server';
import type { Command } from '../command.js';
import { UsageError, UserError } from '../errors.js';
import { modelFileOf } from '@unias/detector';

/**
 * `--model RUN_DIR` (or a unias-layout .safetensors): the server runs ONNX files, so the model is
 * exported next to its file as model.onnx first (again only when the .safetensors is newer).
 */
async function onnxFor(path: string): Promise<string> {
  if (path.toLowerCase().endsWith('.onnx')) return path;
  const file = await modelFileOf(path);
  if (!file) return path;
  const onnx = join(dirname(file), 'model.onnx');
  const [src, dst] = await Promise.all([stat(file), stat(onnx).catch(() => null)]);
  if (!dst || dst.mtimeMs < src.mtimeMs) {
    process.stderr.write(`exporting ${file} to ${onnx}\n`);
    try {
      await exportModel({ model: await loadModelFiles([file]), format: 'onnx', out: onnx });
    } catch (e) {
      throw new UserError((e as Error).message.split('\n')[0]!);
    }
  }
  return onnx;
}

async function withOnnxModels(argv: readonly string[]): Promise<string[]> {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    const eqForm = out[i]!.startsWith('--model=');
    if (out[i] !== '--model' && !eqForm) continue;
    const at = eqForm ? i : i + 1;
    const raw = eqForm ? out[i]!.slice('--model='.length) : out[at];
    if (raw === undefined) continue;
    const eq = raw.indexOf('=');
    const named = eq > 0 && !raw.slice(0, eq).includes('/');
    const name = named ? raw.slice(0, eq + 1) : '';
    const path = await onnxFor(named ? raw.slice(eq + 1) : raw);
    out[at] = eqForm ? `--model=${name}${path}` : `${name}${path}`;
  }
  return out;
}

const USAGE = `usage: unias serve --model FILE.onnx|RUN_DIR [--model NAME=FILE.onnx ...] [--port N] [options]
       unias serve --model-repository DIR [--port N] [options]

Serves exported models (\`unias export --format onnx\`; a run directory or a .safetensors model is
exported to model.onnx beside it first), or the Triton model repository \`unias export --format triton\`
writes (every model, the versions its config.pbtxt's version_policy serves, max_batch_size, inputs,
outputs, dims and dynamic_batching honoured), with @unias/server: KServe v2 (/v2/...),
POST /predict (an image in; map, score and mask out), a browser page at /, Prometheus metrics at
/metrics. Stops gracefully on SIGINT/SIGTERM. The options are those of unias-serve:

${SERVE_USAGE.split('\n').slice(1).join('\n')}`;

export const command: Command = {
  name: 'serve',
  usage: USAGE,
  async run(argv) {
    const args = await withOnnxModels(argv);
    let parsed;
    try {
      parsed = parseServeArgs(args);
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
