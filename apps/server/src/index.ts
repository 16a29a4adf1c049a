export { createServer, SERVER_NAME, SERVER_VERSION } from './server.js';
export { PLATFORM } from './v2-metadata.js';
export type { PredictResult } from './predict-result.js';
export type { UniasServer, ListenInfo, ModelSummary, ServerState } from './server.js';
export { DEFAULT_LIMITS, type ServerOptions, type ResolvedLimits } from './options.js';
export {
  loadModel,
  readContract,
  sessionOptionsFor,
  type ServedModel,
  type ModelSource,
  type TensorSpec,
  type UniasContract,
  type ServedThresholds,
  type SessionSettings,
} from './loaded-model.js';
export { readOnnxMetadataProps } from './onnx-metadata.js';
export { createLogger, LOG_LEVELS, isLogLevel, type Logger, type LogLevel } from './logger.js';
export type { BatchInfo, FlushReason } from './batcher.js';
export { parseServeArgs, USAGE as SERVE_USAGE, UsageError, type CliCommand } from './cli-args.js';
export { serveUntilSignal, type ServeProcessHandle } from './serve-process.js';
