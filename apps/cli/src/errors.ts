/**
 * Errors meant for the person at the terminal: one line, no stack trace (unless --debug).
 * Anything else that escapes a command is a bug and is shown with its stack.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** Process exit code: 2 for usage mistakes, 1 otherwise. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export class UsageError extends UserError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/**
 * Errors thrown by the libraries for bad input (a missing file, weights that do not fit, a corrupt
 * image) are user mistakes too; they already name the file or field.
 */
export function isUserFacing(e: unknown): e is Error {
  if (e instanceof UserError) return true;
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') return true;
  return (
    /^(SafetensorsError|DatasetError|ImageDecodeError|ConfigError|ConfigFileError|MetricsInputError|WeightsError|ExportError|BackendUnavailableError)$/.test(
      e.name,
    ) || e.name.endsWith('InputError')
  );
}
