/** Server options and their defaults (the README's table of limits mirrors these). */
import type { DeviceRequest } from '@unias/backend-onnx';
import type { BatchInfo } from './batcher.js';
import type { ModelSource } from './loaded-model.js';
import type { LogLevel, Logger } from './logger.js';

export interface ServerOptions {
  /** Model files (a path, or `{ path, name }`, or `{ bytes, name }`). A name defaults to the file name without extension. */
  readonly models?: readonly (string | ModelSource)[];
  /**
   * A Triton model repository (`unias export --format triton`): every model folder, the versions its
   * config.pbtxt's version_policy serves, each configured by its config.pbtxt (see src/repository/).
   */
  readonly modelRepository?: string;
  /** Port for `listen()`; 0 picks a free one. Default 8080. */
  readonly port?: number;
  /** Interface for `listen()`. Default 127.0.0.1. */
  readonly host?: string;
  /** onnxruntime intra-op threads per model; default: onnxruntime's choice (all cores). */
  readonly threads?: number;
  /**
   * Where the models run: auto (default: CUDA, else WebGPU on a hardware GPU, else the CPU; the
   * choice and what was skipped are logged), cpu, webgpu or cuda (an error if it cannot run here).
   */
  readonly device?: DeviceRequest;
  /** Let onnxruntime's idle threads spin-wait (lower latency on an otherwise idle machine). Default false. */
  readonly spinning?: boolean;
  /** Most samples one onnxruntime run combines. Default 8. */
  readonly maxBatchSize?: number;
  /** Longest a request waits for others to batch with (ms). Default 5. */
  readonly maxBatchWaitMs?: number;
  /** `adaptive` waits only while other requests for the model are arriving; `fixed` always waits. Default adaptive. */
  readonly batchWaitPolicy?: 'adaptive' | 'fixed';
  /** Inference requests (/infer, /predict) in progress at once; more get 429. Default 64. */
  readonly maxConcurrentRequests?: number;
  /** Largest request body (bytes) for images and binary tensors; more gets 413. Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Largest JSON inference body (bytes; JSON numbers cost ~10x their bytes to parse and hold); more gets 413. Default 16 MiB. */
  readonly maxJsonBodyBytes?: number;
  /** Deepest nesting of arrays and objects in a JSON body, checked before parsing; more gets 400. Default 32. */
  readonly maxJsonDepth?: number;
  /** Open TCP connections at once; more are refused at accept. Default 256. */
  readonly maxConnections?: number;
  /** Time for a client to send the request headers (ms); later gets 408 and the connection closed. Default 10,000. */
  readonly headersTimeoutMs?: number;
  /** The run watchdog (ms): an onnxruntime run still going after this gets its worker killed and restarted. Default 120,000. */
  readonly runTimeoutMs?: number;
  /** Largest image (width x height) /predict decodes; more gets 413. Default 40,000,000. */
  readonly maxInputPixels?: number;
  /** Deadline per request (ms): 408 if the body is not in by then, 504 if inference is not done. Default 30,000. */
  readonly requestTimeoutMs?: number;
  /** How long `close()` waits for in-flight requests before cutting connections (ms). Default 30,000. */
  readonly shutdownTimeoutMs?: number;
  /** Seconds sent in Retry-After with 429 and 503. Default 1. */
  readonly retryAfterSeconds?: number;
  /** Require this key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) on every route but the health probes. */
  readonly apiKey?: string;
  /** Accept only these Host header values (host or host:port, case-insensitive) on every route but the health probes. */
  readonly allowedHosts?: readonly string[];
  /** Allow cross-origin requests from this one origin (e.g. `https://app.example.com`). Default: none (no CORS headers). */
  readonly corsOrigin?: string;
  /** Log level for the default JSON-lines logger. Default info. */
  readonly logLevel?: LogLevel;
  /** A logger to use instead of the default one. */
  readonly logger?: Logger;
  /** Called after every onnxruntime run (for tests and instrumentation). */
  readonly onBatch?: (model: string, info: BatchInfo) => void;
}

export interface ResolvedLimits {
  readonly maxBatchSize: number;
  readonly maxBatchWaitMs: number;
  readonly batchWaitPolicy: 'adaptive' | 'fixed';
  readonly maxConcurrentRequests: number;
  readonly maxBodyBytes: number;
  readonly maxJsonBodyBytes: number;
  readonly maxJsonDepth: number;
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly runTimeoutMs: number;
  readonly maxInputPixels: number;
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly retryAfterSeconds: number;
}

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxBatchSize: 8,
  maxBatchWaitMs: 5,
  batchWaitPolicy: 'adaptive',
  maxConcurrentRequests: 64,
  maxBodyBytes: 32 * 1024 * 1024,
  maxJsonBodyBytes: 16 * 1024 * 1024,
  maxJsonDepth: 32,
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  runTimeoutMs: 120_000,
  maxInputPixels: 40_000_000,
  requestTimeoutMs: 30_000,
  shutdownTimeoutMs: 30_000,
  retryAfterSeconds: 1,
};

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
  }
  return value;
}

export function resolveLimits(o: ServerOptions): ResolvedLimits {
  const d = DEFAULT_LIMITS;
  const policy = o.batchWaitPolicy ?? d.batchWaitPolicy;
  if (policy !== 'adaptive' && policy !== 'fixed') throw new Error(`option batchWaitPolicy must be 'adaptive' or 'fixed', got ${String(policy)}`);
  return {
    maxBatchSize: Math.floor(positive('maxBatchSize', o.maxBatchSize, d.maxBatchSize)),
    maxBatchWaitMs: positive('maxBatchWaitMs', o.maxBatchWaitMs, d.maxBatchWaitMs, true),
    batchWaitPolicy: policy,
    maxConcurrentRequests: Math.floor(positive('maxConcurrentRequests', o.maxConcurrentRequests, d.maxConcurrentRequests)),
    maxBodyBytes: Math.floor(positive('maxBodyBytes', o.maxBodyBytes, d.maxBodyBytes)),
    maxJsonBodyBytes: Math.floor(positive('maxJsonBodyBytes', o.maxJsonBodyBytes, d.maxJsonBodyBytes)),
    maxJsonDepth: Math.floor(positive('maxJsonDepth', o.maxJsonDepth, d.maxJsonDepth)),
    maxConnections: Math.floor(positive('maxConnections', o.maxConnections, d.maxConnections)),
    headersTimeoutMs: positive('headersTimeoutMs', o.headersTimeoutMs, d.headersTimeoutMs),
    runTimeoutMs: positive('runTimeoutMs', o.runTimeoutMs, d.runTimeoutMs),
    maxInputPixels: Math.floor(positive('maxInputPixels', o.maxInputPixels, d.maxInputPixels)),
    requestTimeoutMs: positive('requestTimeoutMs', o.requestTimeoutMs, d.requestTimeoutMs),
    shutdownTimeoutMs: positive('shutdownTimeoutMs', o.shutdownTimeoutMs, d.shutdownTimeoutMs, true),
    retryAfterSeconds: Math.ceil(positive('retryAfterSeconds', o.retryAfterSeconds, d.retryAfterSeconds)),
  };
}
