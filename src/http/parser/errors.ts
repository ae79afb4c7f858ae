/**
 * Protocol errors carry the status the server answers with, so the connection
 * layer never has to guess: 400 malformed, 408 too slow, 413 body too large,
 * 414 request line too long, 417 unsupported expectation, 431 header section
 * too large, 501 unknown transfer coding, 505 unsupported version.
 * Thread: any. Owns nothing.
 */
export type HttpErrorStatus = 400 | 408 | 413 | 414 | 417 | 431 | 501 | 505;

export class HttpError extends Error {
  /** The status to answer with; the connection is closed after it. */
  readonly status: HttpErrorStatus;
  /** A stable, machine-readable reason (e.g. 'HPE_BARE_LF'), useful in tests and logs. */
  readonly code: string;
  constructor(status: HttpErrorStatus, code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

/**
 * Makes a protocol error without a stack trace: it describes the client's
 * bytes, not our code, and a flood of malformed requests must stay cheap.
 */
export function httpError(status: HttpErrorStatus, code: string, message: string): HttpError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new HttpError(status, code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export const badRequest = (code: string, message: string): HttpError => httpError(400, code, message);
