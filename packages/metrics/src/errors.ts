/** Bad input to the metrics: the message names the tensor, class or image it is about. */
export class MetricsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsInputError';
  }
}
