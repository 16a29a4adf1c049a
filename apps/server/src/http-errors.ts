/**
 * Errors Node's HTTP parser raises before a request reaches a route (the server's `clientError`
 * event), mapped to the status a client can act on. The message is ours, not the parser's.
 */
export interface ClientErrorAnswer {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

export function clientErrorStatus(err: NodeJS.ErrnoException): ClientErrorAnswer {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        message: 'the request headers or body did not arrive in time (headers-timeout-ms / request-timeout-ms)',
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', message: 'the request headers are larger than the server accepts (16 KiB)' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason: 'Content Too Large', message: 'the chunk extensions of the body are larger than the server accepts' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, reason: 'Bad Request', message: 'malformed HTTP request: unknown method' };
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { status: 400, reason: 'Bad Request', message: 'malformed HTTP request: invalid Content-Length' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { status: 400, reason: 'Bad Request', message: 'malformed HTTP request: invalid Transfer-Encoding' };
    default:
      return { status: 400, reason: 'Bad Request', message: `malformed HTTP request (${err.code ?? 'parse error'})` };
  }
}
