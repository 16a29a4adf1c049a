/** An image that could not be decoded (unreadable, truncated, unknown format, over a limit); names the file or field. */
export class ImageDecodeError extends Error {
  /** The file path, or what the bytes were (e.g. "the request body"). */
  readonly file: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'ImageDecodeError';
    this.file = file;
  }
}
