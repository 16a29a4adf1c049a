/**
 * A mistake in what the engine was given (settings, a dataset folder, a weights file, a run
 * directory to resume): one line that names the file or field. The name ends in `InputError`, the
 * convention by which the CLI and the server show a library's message as the user's mistake, not as
 * a bug.
 */
export class EngineInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineInputError';
  }
}
