/**
 * Bad input to the detector (a model path that is not a model, a device that cannot run, an image
 * that cannot be read): one line that names the file. The name ends in `InputError`, the convention
 * by which the CLI and the server show a library's message as the user's mistake, not as a bug.
 */
export class DetectorInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectorInputError';
  }
}
