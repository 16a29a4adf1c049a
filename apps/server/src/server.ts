/**
 * The UniAS inference server: Open Inference Protocol v2 over HTTP, `/predict` for images, a browser
 * page, Prometheus metrics. `createServer(options)` returns `{ listen(), close() }`.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBatcher, type Batcher, type TensorMap, type Ticket } from './batcher.js';
import { createAccessControl } from './access-control.js';
import { HttpError, badRequest } from './errors.js';
import { parseContentType, readBody } from './http-body.js';
import { clientErrorStatus } from './http-errors.js';
import { decodeUpload } from './image-input.js';
import { createJsonParser } from './json-body.js';
import { loadModel, modelNameOf, type ServedModel, type ModelSource, type SessionSettings, type TensorSpec } from './loaded-model.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsRegistry, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { resolveLimits, type ResolvedLimits, type ServerOptions } from './options.js';
import { renderPage, type PageModel } from './page.js';
import { buildPredictResult, checkPredictContentType, thresholdOverrides } from './predict-result.js';
import { startDeadline, withDeadline, type Deadline } from './request-deadline.js';
import { allowedMethods, matchRoute, routeLabel, type Route } from './routes.js';
import { sessionRunner } from './session-runner.js';
import { modelConfig, modelMetadata } from './v2-metadata.js';
import { configJson, loadModelRepository, ModelTable, type ConfiguredModel } from './repository/index.js';
import type { SupervisorEvent } from './supervised-session.js';
import { encodeInferResponse, inferHeaderBytes, inferRequestOf } from './v2-tensors.js';
import { RunTimeoutError, WorkerCrashError } from './worker-session.js';

export const SERVER_NAME = 'unias-server';
export const SERVER_VERSION = '0.1.0';

export type ServerState = 'created' | 'loading' | 'ready' | 'draining' | 'closed';

export interface ListenInfo {
  readonly url: string;
  readonly host: string;
  readonly port: number;
}

export interface ModelSummary {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly batchable: boolean;
  readonly predict: boolean;
  readonly metadata: Readonly<Record<string, string>>;
  /** The process id of the model's onnxruntime worker (undefined while it restarts). */
  readonly workerPid: number | undefined;
  /** Workers started after the first (crashes and watchdog kills). */
  readonly workerRestarts: number;
}

export interface UniasServer {
  /** Starts listening, loads the models, resolves when ready (readiness is 503 until then). */
  listen(port?: number, host?: string): Promise<ListenInfo>;
  /** Stops accepting, finishes in-flight requests (up to shutdownTimeoutMs), releases the models. */
  close(): Promise<void>;
  readonly state: ServerState;
  readonly url: string | null;
  readonly models: readonly ModelSummary[];
  readonly limits: ResolvedLimits;
}

interface ModelEntry {
  readonly model: ServedModel;
  readonly batcher: Batcher;
  /** Set for a model from --model-repository: its config.pbtxt, honoured. */
  readonly configured?: ConfiguredModel;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

function normaliseSources(models: ServerOptions['models'], repository: string | undefined): ModelSource[] {
  if (repository !== undefined && (models === undefined || (Array.isArray(models) && models.length === 0))) return [];
  if (!Array.isArray(models) || models.length === 0) throw new Error('createServer needs at least one model or a model repository');
  return models.map((m) => (typeof m === 'string' ? { path: m } : m));
}

export function createServer(options: ServerOptions): UniasServer {
  const limits = resolveLimits(options);
  const sources = normaliseSources(options.models, options.modelRepository);
  const names = sources.map(modelNameOf);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`two models are named '${duplicate}'; give one a different name`);
  const logger: Logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  const access = createAccessControl({
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.allowedHosts !== undefined ? { allowedHosts: options.allowedHosts } : {}),
    ...(options.corsOrigin !== undefined ? { corsOrigin: options.corsOrigin } : {}),
  });
  // The parse of a JSON body holds ~10 bytes of heap per body byte (numbers become doubles, arrays grow).
  const jsonParser = createJsonParser({
    maxDepth: limits.maxJsonDepth,
    workerHeapMb: Math.ceil((limits.maxJsonBodyBytes * 12) / 2 ** 20) + 64,
  });

  let state: ServerState = 'created';
  let listenInfo: ListenInfo | null = null;
  const entries = new ModelTable<ModelEntry>();
  let inflightInference = 0;
  let activeRequests = 0;
  /** Responses not yet finished: at the shutdown deadline the unanswered ones get 503. */
  const openResponses = new Set<ServerResponse>();
  /** Deadlines of inference requests in progress: the shutdown deadline aborts them (queued work is dropped). */
  const activeDeadlines = new Set<Deadline>();

  function deadlineFor(res: ServerResponse): Deadline {
    const dl = startDeadline(res, limits.requestTimeoutMs);
    activeDeadlines.add(dl);
    return {
      ...dl,
      dispose: () => {
        activeDeadlines.delete(dl);
        dl.dispose();
      },
    };
  }
  let activeWaiters: (() => void)[] = [];
  let closing: Promise<void> | null = null;
  let requestCounter = 0;

  // Metrics.
  const registry = createMetricsRegistry();
  const requestsTotal = registry.counter('unias_http_requests_total', 'HTTP requests by route, method and status code.', ['route', 'method', 'status']);
  const requestDuration = registry.histogram(
    'unias_http_request_duration_seconds',
    'HTTP request latency from the first byte read to the last byte written.',
    ['route'],
    DURATION_BUCKETS,
  );
  const batchSize = registry.histogram('unias_batch_size', 'Samples per onnxruntime run.', ['model'], BATCH_BUCKETS);
  const batchRequests = registry.histogram('unias_batch_requests', 'Requests combined into one onnxruntime run.', ['model'], BATCH_BUCKETS);
  const inferenceDuration = registry.histogram('unias_inference_duration_seconds', 'Duration of one onnxruntime run.', ['model'], DURATION_BUCKETS);
  const batchesTotal = registry.counter('unias_batches_total', 'onnxruntime runs by model and what started them.', ['model', 'reason', 'ok']);
  registry.gauge('unias_queue_depth', 'Requests waiting for an onnxruntime run.', ['model'], (g) => {
    // Versions of one model add up under its name.
    const depth = new Map<string, number>();
    for (const e of entries.values()) depth.set(e.model.name, (depth.get(e.model.name) ?? 0) + e.batcher.queuedRequests);
    for (const [model, n] of depth) g.set({ model }, n);
  });
  registry.gauge('unias_worker_restarts', "Restarts of a model's onnxruntime worker (crashes, watchdog kills).", ['model'], (g) => {
    // Versions of one model add up under its name.
    const restarts = new Map<string, number>();
    for (const e of entries.values()) restarts.set(e.model.name, (restarts.get(e.model.name) ?? 0) + e.model.session.restarts);
    for (const [model, n] of restarts) g.set({ model }, n);
  });
  registry.gauge('unias_inflight_requests', 'Inference requests (/infer, /predict) in progress.', [], (g) => g.set({}, inflightInference));
  registry.gauge('unias_ready', '1 when the models are loaded and the server accepts inference.', [], (g) =>
    g.set({}, state === 'ready' && allHealthy() ? 1 : 0),
  );
  registry.gauge('process_resident_memory_bytes', 'Resident memory of the server process.', [], (g) => g.set({}, process.memoryUsage.rss()));

  const httpServer = createHttpServer({
    // Our own deadline answers first with a JSON 408/504; requestTimeout is the backstop. Node checks
    // both timeouts every connectionsCheckingInterval, so that interval bounds how late a slow client is cut.
    requestTimeout: limits.requestTimeoutMs + 5_000,
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs + 5_000),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    keepAliveTimeout: 5_000,
  });
  httpServer.maxConnections = limits.maxConnections;

  function retryHeaders(): Record<string, string> {
    return { 'Retry-After': String(limits.retryAfterSeconds) };
  }

  function send(res: ServerResponse, status: number, body: string | Buffer, contentType: string, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const h: Record<string, string | number> = {
      'Content-Type': contentType,
      'Content-Length': buf.length,
      'X-Content-Type-Options': 'nosniff',
      ...access.corsHeaders(res.req),
      ...headers,
    };
    if (state === 'draining' || state === 'closed') h['Connection'] = 'close';
    res.writeHead(status, h);
    res.end(buf);
  }

  function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    send(res, status, JSON.stringify(value), 'application/json', headers);
  }

  function entryFor(name: string, version: string | null): ModelEntry {
    return entries.get(name, version);
  }

  /** Every model's worker is alive (a dead one makes the server unready, so an orchestrator restarts it). */
  function allHealthy(): boolean {
    for (const { model } of entries.values()) if (!model.session.healthy) return false;
    return true;
  }

  function checkUsable(entry: ModelEntry): void {
    const failure = entry.model.session.failure;
    if (failure !== null) throw new HttpError(503, `model '${entry.model.name}' is unavailable: ${failure.message}`, retryHeaders());
  }

  /** The process can still serve: every model has a worker or is restarting one (liveness). */
  function allLive(): boolean {
    for (const { model } of entries.values()) if (!model.session.live) return false;
    return true;
  }

  function pageModels(): PageModel[] {
    const out: PageModel[] = [];
    for (const { model } of entries.latest()) {
      if (model.contract === null) continue;
      out.push({
        name: model.name,
        pixelThreshold: model.contract.thresholds.pixel,
        imageThreshold: model.contract.thresholds.image,
        height: model.contract.height,
        width: model.contract.width,
      });
    }
    return out;
  }

  /** Inference routes answer 503 unless ready (checked before the body is read, and again after). */
  function checkReady(): void {
    if (state !== 'ready') {
      const why = state === 'loading' || state === 'created' ? 'the models are still loading' : 'the server is shutting down';
      throw new HttpError(503, `not ready: ${why}`, retryHeaders());
    }
  }

  /**
   * A concurrency slot, taken once the body has arrived: a slow upload holds a connection (bounded
   * by max-connections and the request timeout) but not one of the slots inference work needs.
   * 429 past max-concurrent-requests.
   */
  function admit(): () => void {
    checkReady();
    if (inflightInference >= limits.maxConcurrentRequests) {
      throw new HttpError(
        429,
        `too many requests in progress (${inflightInference} of max-concurrent-requests ${limits.maxConcurrentRequests}); retry later`,
        retryHeaders(),
      );
    }
    inflightInference++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        inflightInference--;
      }
    };
  }

  async function handleInfer(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: 'infer' }>): Promise<void> {
    checkReady();
    let release: (() => void) | null = null;
    let ticket: Ticket | null = null;
    const dl = deadlineFor(res);
    try {
      const entry = entryFor(route.model, route.version);
      checkUsable(entry);
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity') {
        throw new HttpError(415, `Content-Encoding '${encoding}' is not supported; send the body uncompressed`);
      }
      const headerLengthRaw = req.headers['inference-header-content-length'];
      const ct = parseContentType(req.headers['content-type']);
      let headerLength: number | null = null;
      if (headerLengthRaw !== undefined) {
        // The binary extension: its custom header makes a browser ask first (CORS preflight), so any
        // content type is safe here; tritonclient sends none or application/octet-stream.
        headerLength = Number(headerLengthRaw);
        if (!Number.isSafeInteger(headerLength) || headerLength < 0) {
          throw badRequest(`Inference-Header-Content-Length '${String(headerLengthRaw)}' is not a non-negative integer`);
        }
      } else if (ct.mediaType !== 'application/json' && !ct.mediaType.endsWith('+json')) {
        // No form types and no empty type: browsers send those cross-site without a preflight.
        throw new HttpError(
          415,
          `content type '${ct.mediaType || '(none)'}' is not accepted here; send application/json (or binary tensors with Inference-Header-Content-Length)`,
        );
      }
      ticket = entry.batcher.expect();
      const maxBytes = headerLength === null ? limits.maxJsonBodyBytes : limits.maxBodyBytes;
      const limitName = headerLength === null ? 'max-json-body-bytes; binary tensors may use max-body-bytes' : 'max-body-bytes';
      const body = await readBody(req, { maxBytes, limitName, signal: dl.signal });
      dl.bodyReceived();
      release = admit();
      const header = inferHeaderBytes(body, headerLength);
      // A JSON body is handed to the parser whole (it may move to its thread); the binary extension
      // keeps its body for the tensors and hands over a copy of the JSON header.
      const json = await withDeadline(jsonParser.parse(headerLength === null ? body : Buffer.from(header), 'the inference request'), dl.signal);
      // A repository model's cap is its config.pbtxt max_batch_size (checked with Triton's message);
      // a --model file's is max-batch-size.
      const request = inferRequestOf(
        json,
        headerLength === null ? Buffer.alloc(0) : body,
        headerLength,
        entry.model,
        entry.configured ? {} : { maxBatchSize: limits.maxBatchSize },
      );
      entry.configured?.checkRequestBatch(request.inputs);
      const t = ticket;
      ticket = null;
      const outputs = await withDeadline(entry.batcher.submit(request.inputs, { ticket: t, signal: dl.signal }), dl.signal);
      const encoded = encodeInferResponse(entry.model, request, outputs);
      send(res, 200, encoded.body, encoded.contentType, encoded.headers);
    } finally {
      ticket?.cancel();
      dl.dispose();
      release?.();
    }
  }

  async function handlePredict(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    checkReady();
    let release: (() => void) | null = null;
    let ticket: Ticket | null = null;
    const dl = deadlineFor(res);
    try {
      const requested = url.searchParams.get('model');
      const name = requested ?? entries.names()[0];
      if (name === undefined) throw new HttpError(503, 'no model is loaded', retryHeaders());
      const entry = entryFor(name, url.searchParams.get('version'));
      checkUsable(entry);
      const { model } = entry;
      const contract = model.contract;
      if (contract === null) {
        throw badRequest(`model '${model.name}' cannot serve /predict: ${model.contractProblem ?? 'it does not follow the exported-model contract'}`);
      }
      const overrides = thresholdOverrides(url);
      checkPredictContentType(parseContentType(req.headers['content-type']).mediaType);
      const encoding = req.headers['content-encoding'];
      if (encoding !== undefined && encoding !== 'identity') {
        throw new HttpError(415, `Content-Encoding '${encoding}' is not supported; send the image as it is`);
      }
      ticket = entry.batcher.expect();
      const body = await readBody(req, { maxBytes: limits.maxBodyBytes, signal: dl.signal });
      dl.bodyReceived();
      release = admit();
      if (body.length === 0) throw badRequest('the request body is empty; send an image');
      const image = await withDeadline(
        decodeUpload(body, contract.height, contract.width, { maxInputPixels: limits.maxInputPixels, timeoutMs: dl.remainingMs() }),
        dl.signal,
      );
      const t = ticket;
      ticket = null;
      const inputs: TensorMap = { [contract.inputName]: { data: image.tensor, dims: [1, 3, contract.height, contract.width] } };
      const outputs = await withDeadline(entry.batcher.submit(inputs, { ticket: t, signal: dl.signal }), dl.signal);
      sendJson(res, 200, await buildPredictResult(model.name, contract, image, outputs, overrides));
    } finally {
      ticket?.cancel();
      dl.dispose();
      release?.();
    }
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, route: Route, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const preflight = access.preflight(req);
    if (preflight !== null) {
      res.writeHead(204, { ...preflight, 'Content-Length': 0, 'X-Content-Type-Options': 'nosniff' });
      res.end();
      return;
    }
    if (route.kind !== 'live' && route.kind !== 'ready') access.check(req);
    if (route.kind === 'not-found') throw new HttpError(404, `no route for ${method} ${url.pathname}`);
    const allowed = allowedMethods(route);
    if (!allowed.includes(method)) {
      throw new HttpError(405, `${method} is not allowed on ${url.pathname}; use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') });
    }
    switch (route.kind) {
      case 'page':
        return send(res, 200, renderPage(pageModels()), 'text/html; charset=utf-8', {
          'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src 'self'",
        });
      case 'metrics':
        return send(res, 200, registry.render(), PROMETHEUS_CONTENT_TYPE);
      case 'live':
        return allLive() ? sendJson(res, 200, { live: true }) : sendJson(res, 503, { live: false });
      case 'ready':
        return state === 'ready' && allHealthy() ? sendJson(res, 200, { ready: true }) : sendJson(res, 503, { ready: false }, retryHeaders());
      case 'server-metadata':
        return sendJson(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data', 'model_configuration'] });
      case 'model-metadata':
        return sendJson(res, 200, modelMetadata(entryFor(route.model, route.version).model, entries.versionsOf(route.model)));
      case 'model-config': {
        const entry = entryFor(route.model, route.version);
        return sendJson(res, 200, entry.configured ? configJson(entry.configured) : modelConfig(entry.model, limits));
      }
      case 'model-ready': {
        const entry = entryFor(route.model, route.version);
        const ready = state === 'ready' && entry.model.session.healthy;
        return sendJson(res, ready ? 200 : 503, { name: entry.model.name, ready }, ready ? {} : retryHeaders());
      }
      case 'infer':
        return handleInfer(req, res, route);
      case 'predict':
        return handlePredict(req, res, url);
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const requestId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'].slice(0, 128) : String(++requestCounter);
    activeRequests++;
    openResponses.add(res);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const route = matchRoute(url.pathname);
    const label = routeLabel(route);
    let errorMessage: string | undefined;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      activeRequests--;
      openResponses.delete(res);
      const seconds = (performance.now() - started) / 1000;
      const status = res.writableFinished ? res.statusCode : 499;
      requestsTotal.inc({ route: label, method: req.method ?? '', status: String(status) });
      requestDuration.observe({ route: label }, seconds);
      logger.info('request', {
        id: requestId,
        method: req.method,
        path: url.pathname,
        route: label,
        status,
        ms: Math.round(seconds * 1e4) / 10,
        ...(errorMessage !== undefined ? { error: errorMessage } : {}),
      });
      if (activeRequests === 0) {
        const waiters = activeWaiters;
        activeWaiters = [];
        for (const w of waiters) w();
      }
    };
    res.on('finish', done);
    res.on('close', done);
    res.setHeader('X-Request-Id', requestId);
    dispatch(req, res, route, url).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof WorkerCrashError) {
        // The model's worker died during this request (or the watchdog ended a run): the request may
        // succeed on the restarted worker, so it is a retryable 503 (504 for the watchdog).
        errorMessage = error.message;
        if (!req.complete) drainAndClose(req, res);
        const status = error instanceof RunTimeoutError ? 504 : 503;
        sendJson(res, status, { error: `inference failed: ${error.message}` }, retryHeaders());
        return;
      }
      if (error instanceof HttpError) {
        errorMessage = error.message;
        if (error.status === 499) {
          res.destroy();
          return;
        }
        if (!req.complete) drainAndClose(req, res);
        sendJson(res, error.status, { error: error.message }, error.headers);
        return;
      }
      errorMessage = error instanceof Error ? error.message : String(error);
      logger.error('internal error', { id: requestId, path: url.pathname, error: errorMessage, stack: error instanceof Error ? error.stack : undefined });
      if (!req.complete) drainAndClose(req, res);
      // No internal text in the answer (paths, library messages); the log has it under this id.
      sendJson(res, 500, { error: `internal error; the server log has the details under request id ${requestId}` });
    });
  }

  /** The body was not read: close the connection after answering, discarding what is still coming (for a while). */
  function drainAndClose(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Connection', 'close');
    req.resume();
    const timer = setTimeout(() => req.socket.destroy(), 5_000);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  }

  httpServer.on('request', onRequest);
  httpServer.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const { status, reason, message } = clientErrorStatus(err);
    const body = JSON.stringify({ error: message });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  /** A batcher for one model; a repository model batches by its config (max_batch_size, dynamic_batching). */
  function addEntry(model: ServedModel, configured?: ConfiguredModel): void {
    const batcher = createBatcher({
      maxBatchSize: configured ? Math.max(1, configured.maxBatchSize) : limits.maxBatchSize,
      maxWaitMs: configured ? configured.maxQueueDelayMs : limits.maxBatchWaitMs,
      waitPolicy: limits.batchWaitPolicy,
      batchable: configured ? configured.dynamicBatching && model.batchable : model.batchable,
      run: configured ? configured.wrapRunner(sessionRunner(configured.model)) : sessionRunner(model),
      onBatch: (info) => {
        batchSize.observe({ model: model.name }, info.size);
        batchRequests.observe({ model: model.name }, info.requests);
        inferenceDuration.observe({ model: model.name }, info.runSeconds);
        batchesTotal.inc({ model: model.name, reason: info.reason, ok: String(info.ok) });
        options.onBatch?.(model.name, info);
      },
    });
    entries.add({ model, batcher, ...(configured ? { configured } : {}) });
  }

  /** Supervised-worker settings for one model (the run watchdog; crashes and restarts logged under its name). */
  function sessionSettings(labels: { model: string; version?: string }, executionProviders: readonly string[]): SessionSettings {
    return {
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.spinning !== undefined ? { spinning: options.spinning } : {}),
      executionProviders,
      runTimeoutMs: limits.runTimeoutMs,
      onWorkerEvent: (event: SupervisorEvent) => {
        if (event.kind === 'crashed') logger.error('model worker died', { ...labels, error: event.error.message });
        else if (event.kind === 'restarted') logger.warn('model worker restarted', { ...labels, restarts: event.restarts, pid: event.pid });
        else if (event.kind === 'restart-failed')
          logger.error('model worker restart failed', { ...labels, attempt: event.attempt, nextDelayMs: event.nextDelayMs, error: event.error.message });
        else logger.error('model worker cannot be restarted; liveness is now failing', { ...labels, error: event.error.message });
      },
    };
  }

  async function loadAll(): Promise<void> {
    const { chooseOnnxDevice } = await import('@unias/backend-onnx');
    const device = await chooseOnnxDevice(options.device ?? 'auto');
    logger.info('device', { device: device.device, why: device.why, skipped: device.skipped });
    for (const source of sources) {
      const t0 = performance.now();
      const model = await loadModel(source, sessionSettings({ model: modelNameOf(source) }, device.executionProviders));
      addEntry(model);
      logger.info('model loaded', {
        model: model.name,
        source: model.source,
        ms: Math.round(performance.now() - t0),
        batchable: model.batchable,
        predict: model.contract !== null,
        ...(model.contract !== null ? { precision: model.contract.precision } : {}),
        ...(model.contractProblem !== null ? { predictUnavailable: model.contractProblem } : {}),
        inputs: model.inputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`),
        outputs: model.outputs.map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`),
      });
    }
    if (options.modelRepository !== undefined) {
      const configured = await loadModelRepository(
        options.modelRepository,
        (name, version) => sessionSettings({ model: name, version }, device.executionProviders),
        (p) => {
          logger.info('model loaded', { model: p.name, version: p.version, source: p.path, ms: p.ms, ...(p.notes.length > 0 ? { notes: p.notes } : {}) });
        },
      );
      for (const [i, c] of configured.entries()) {
        try {
          addEntry(c.model, c);
        } catch (e) {
          // A name already taken (a --model file): release what was loaded but not added.
          await Promise.all(configured.slice(i).map((rest) => rest.model.session.release()));
          throw e;
        }
      }
    }
  }

  async function releaseModels(): Promise<void> {
    for (const { model, batcher } of entries.values()) {
      await batcher.idle();
      await model.session.release();
    }
    entries.clear();
  }

  return {
    async listen(port = options.port ?? 8080, host = options.host ?? '127.0.0.1'): Promise<ListenInfo> {
      if (state !== 'created') throw new Error(`listen() called on a server that is ${state}`);
      state = 'loading';
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const address = httpServer.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      listenInfo = { host: address.address, port: address.port, url: `http://${shownHost}:${address.port}` };
      logger.info('listening', {
        url: listenInfo.url,
        models: names,
        ...(options.modelRepository !== undefined ? { modelRepository: options.modelRepository } : {}),
      });
      if (!isLoopback(address.address) && options.apiKey === undefined) {
        logger.warn("listening beyond loopback without an API key: anyone who can reach this address can run inference and read the models' metadata", {
          url: listenInfo.url,
        });
      }
      try {
        await loadAll();
      } catch (error) {
        logger.error('model loading failed', { error: (error as Error).message });
        await this.close();
        throw error;
      }
      if (state === 'loading') state = 'ready';
      logger.info('ready', { url: listenInfo.url, limits });
      return listenInfo;
    },

    close(): Promise<void> {
      if (closing) return closing;
      const wasListening = state !== 'created';
      state = 'draining';
      closing = (async () => {
        logger.info('shutting down', { inflight: activeRequests });
        if (wasListening) {
          const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
          httpServer.closeIdleConnections();
          if (activeRequests > 0) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
              new Promise<void>((resolve) => activeWaiters.push(resolve)),
              new Promise<void>((resolve) => {
                timer = setTimeout(resolve, limits.shutdownTimeoutMs);
              }),
            ]);
            clearTimeout(timer);
            if (activeRequests > 0) {
              logger.warn('shutdown timeout: answering the requests still in progress with 503', { inflight: activeRequests });
              const message = `the server is shutting down and this request did not finish within ${limits.shutdownTimeoutMs} ms (shutdown-timeout-ms)`;
              for (const dl of activeDeadlines) dl.abort(new HttpError(503, message, retryHeaders()));
              for (const res of openResponses) sendJson(res, 503, { error: message }, retryHeaders());
              // Let those answers reach the sockets before the connections are cut.
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
          httpServer.closeAllConnections();
          await closed;
        }
        await releaseModels();
        await jsonParser.close();
        state = 'closed';
        logger.info('stopped');
      })();
      return closing;
    },

    get state() {
      return state;
    },
    get url() {
      return listenInfo?.url ?? null;
    },
    get models(): readonly ModelSummary[] {
      return entries.values().map(({ model }) => ({
        name: model.name,
        version: model.version,
        source: model.source,
        inputs: model.inputs,
        outputs: model.outputs,
        batchable: model.batchable,
        predict: model.contract !== null,
        metadata: model.metadata,
        workerPid: model.session.pid,
        workerRestarts: model.session.restarts,
      }));
    },
    limits,
  };
}
