/** Command-line options of `unias-serve` (also the shape `unias serve` passes on). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEVICES, isDeviceRequest } from '@unias/backend-onnx';
import { isLogLevel, LOG_LEVELS } from './logger.js';
import { DEFAULT_LIMITS, type ServerOptions } from './options.js';
import type { ModelSource } from './loaded-model.js';

export const USAGE = `Usage: unias-serve --model FILE.onnx [--model NAME=FILE.onnx ...] | --model-repository DIR [options]

Serves exported UniAS models (ONNX) over HTTP: KServe v2 (/v2/...), POST /predict, a page at /,
Prometheus metrics at /metrics.

Options:
  --model FILE | NAME=FILE     model to load (repeatable); name defaults to the file name
  --model-repository DIR       serve a Triton model repository (unias export --format triton):
                               every model, the versions its version_policy serves, config.pbtxt honoured
  --port N                     port (default 8080; 0 = any free port)
  --host ADDR                  interface (default 127.0.0.1; 0.0.0.0 for all: see the README on what that exposes)
  --device D                   auto | cpu | webgpu | cuda (default auto: the best that works here; logged)
  --threads N                  onnxruntime threads per model (default: all cores)
  --spinning                   let idle onnxruntime threads spin-wait (default off)
  --max-batch-size N           samples per onnxruntime run (default ${DEFAULT_LIMITS.maxBatchSize})
  --max-batch-wait-ms MS       longest wait for a batch to fill (default ${DEFAULT_LIMITS.maxBatchWaitMs})
  --batch-wait-policy P        adaptive | fixed (default ${DEFAULT_LIMITS.batchWaitPolicy})
  --max-concurrent-requests N  inference requests in progress; more get 429 (default ${DEFAULT_LIMITS.maxConcurrentRequests})
  --max-body-bytes N           largest request body; more gets 413 (default ${DEFAULT_LIMITS.maxBodyBytes})
  --max-json-body-bytes N      largest JSON inference body; more gets 413 (default ${DEFAULT_LIMITS.maxJsonBodyBytes})
  --max-connections N          open connections at once (default ${DEFAULT_LIMITS.maxConnections})
  --headers-timeout-ms MS      408 when the request headers take longer (default ${DEFAULT_LIMITS.headersTimeoutMs})
  --run-timeout-ms MS          kill and restart a model's worker whose run takes longer (default ${DEFAULT_LIMITS.runTimeoutMs})
  --max-input-pixels N         largest image width x height; more gets 413 (default ${DEFAULT_LIMITS.maxInputPixels})
  --request-timeout-ms MS      408 / 504 after this (default ${DEFAULT_LIMITS.requestTimeoutMs})
  --shutdown-timeout-ms MS     wait for in-flight requests on SIGTERM/SIGINT (default ${DEFAULT_LIMITS.shutdownTimeoutMs})
  --api-key KEY                require Authorization: Bearer KEY (or X-API-Key) on all but /v2/health/*
  --api-key-file FILE          the same, the key read from FILE (keeps it out of the process list)
  --allowed-host HOST          accept only this Host header (repeatable; default any)
  --cors ORIGIN                allow cross-origin requests from ORIGIN (default: none)
  --log-level L                ${LOG_LEVELS.join(' | ')} (default info)
  -v, --version                the version
  -h, --help                   this text
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function integer(name: string, raw: string | undefined, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

export type CliCommand = { readonly help: true } | { readonly help: false; readonly options: ServerOptions };

export function parseServeArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        model: { type: 'string', multiple: true },
        'model-repository': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        device: { type: 'string' },
        threads: { type: 'string' },
        spinning: { type: 'boolean' },
        'max-batch-size': { type: 'string' },
        'max-batch-wait-ms': { type: 'string' },
        'batch-wait-policy': { type: 'string' },
        'max-concurrent-requests': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-input-pixels': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'shutdown-timeout-ms': { type: 'string' },
        'max-json-body-bytes': { type: 'string' },
        'max-connections': { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        'run-timeout-ms': { type: 'string' },
        'api-key': { type: 'string' },
        'api-key-file': { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        cors: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const models: ModelSource[] = (v.model ?? []).map((m) => {
    const eq = m.indexOf('=');
    // NAME=FILE, unless the '=' is part of a path.
    if (eq > 0 && !m.slice(0, eq).includes('/')) return { name: m.slice(0, eq), path: m.slice(eq + 1) };
    return { path: m };
  });
  const repository = v['model-repository'];
  if (repository === '') throw new UsageError('--model-repository needs a folder');
  if (models.length === 0 && repository === undefined) throw new UsageError('give at least one --model FILE.onnx, or --model-repository DIR');
  const logLevel = v['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  const policy = v['batch-wait-policy'];
  if (policy !== undefined && policy !== 'adaptive' && policy !== 'fixed') {
    throw new UsageError(`--batch-wait-policy must be adaptive or fixed, got '${policy}'`);
  }
  const device = v.device;
  if (device !== undefined && !isDeviceRequest(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got '${device}'`);
  if (v['api-key'] !== undefined && v['api-key-file'] !== undefined) throw new UsageError('give --api-key or --api-key-file, not both');
  let apiKey = v['api-key'];
  if (v['api-key-file'] !== undefined) {
    try {
      apiKey = readFileSync(v['api-key-file'], 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--api-key-file ${v['api-key-file']}: ${(e as Error).message}`);
    }
  }
  if (apiKey !== undefined && apiKey.trim().length < 8) throw new UsageError('the API key must be at least 8 characters');
  const port = integer('port', v.port);
  if (port !== undefined && port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const options: ServerOptions = {
    models,
    ...(repository !== undefined ? { modelRepository: repository } : {}),
    logLevel,
    ...(port !== undefined ? { port } : {}),
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(device !== undefined ? { device } : {}),
    ...(v.threads !== undefined ? { threads: integer('threads', v.threads, 1) } : {}),
    ...(v.spinning ? { spinning: true } : {}),
    ...(v['max-batch-size'] !== undefined ? { maxBatchSize: integer('max-batch-size', v['max-batch-size'], 1) } : {}),
    ...(v['max-batch-wait-ms'] !== undefined ? { maxBatchWaitMs: integer('max-batch-wait-ms', v['max-batch-wait-ms']) } : {}),
    ...(policy !== undefined ? { batchWaitPolicy: policy } : {}),
    ...(v['max-concurrent-requests'] !== undefined ? { maxConcurrentRequests: integer('max-concurrent-requests', v['max-concurrent-requests'], 1) } : {}),
    ...(v['max-body-bytes'] !== undefined ? { maxBodyBytes: integer('max-body-bytes', v['max-body-bytes'], 1) } : {}),
    ...(v['max-json-body-bytes'] !== undefined ? { maxJsonBodyBytes: integer('max-json-body-bytes', v['max-json-body-bytes'], 1) } : {}),
    ...(v['max-connections'] !== undefined ? { maxConnections: integer('max-connections', v['max-connections'], 1) } : {}),
    ...(v['headers-timeout-ms'] !== undefined ? { headersTimeoutMs: integer('headers-timeout-ms', v['headers-timeout-ms'], 1) } : {}),
    ...(v['run-timeout-ms'] !== undefined ? { runTimeoutMs: integer('run-timeout-ms', v['run-timeout-ms'], 1) } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...(v['allowed-host'] !== undefined ? { allowedHosts: v['allowed-host'] } : {}),
    ...(v.cors !== undefined ? { corsOrigin: v.cors } : {}),
    ...(v['max-input-pixels'] !== undefined ? { maxInputPixels: integer('max-input-pixels', v['max-input-pixels'], 1) } : {}),
    ...(v['request-timeout-ms'] !== undefined ? { requestTimeoutMs: integer('request-timeout-ms', v['request-timeout-ms'], 1) } : {}),
    ...(v['shutdown-timeout-ms'] !== undefined ? { shutdownTimeoutMs: integer('shutdown-timeout-ms', v['shutdown-timeout-ms']) } : {}),
  };
  return { help: false, options };
}
