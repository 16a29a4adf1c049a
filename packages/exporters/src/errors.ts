/** Errors of this package: one message that names the file, tensor or option at fault. */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}
