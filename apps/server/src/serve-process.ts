/**
 * Running the server as a process: start it, and on SIGTERM/SIGINT stop accepting, finish in-flight
 * requests, release the models, then exit. Used by the `unias-serve` bin; `unias serve` can call it too.
 */
import { createLogger } from './logger.js';
import { createServer, type ListenInfo, type UniasServer } from './server.js';
import type { ServerOptions } from './options.js';

export interface ServeProcessHandle {
  readonly server: UniasServer;
  readonly info: ListenInfo;
}

/** Starts the server and installs signal handlers that shut it down gracefully and exit. */
export async function serveUntilSignal(options: ServerOptions): Promise<ServeProcessHandle> {
  const logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info' });
  const server = createServer({ ...options, logger });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal: the operator wants out now.
      process.exit(130);
    }
    stopping = true;
    logger.info('signal', { signal });
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const info = await server.listen();
  return { server, info };
}
