/** One error type for every way a checkpoint can be unreadable, always naming the file. */
export class TorchCheckpointError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'TorchCheckpointError';
  }
}

/** A `bad(reason)` helper bound to one file, for parsers that bail out from deep inside. */
export function failer(source: string): (reason: string) => never {
  return (reason: string): never => {
    throw new TorchCheckpointError(source, reason);
  };
}
