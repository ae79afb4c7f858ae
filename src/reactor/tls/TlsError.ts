/**
 * Why a TLS connection or context failed, in OpenSSL's words plus what to do.
 * Thread: any. Owns nothing.
 */
export class TlsError extends Error {
  /** ERR_TLS_HANDSHAKE (before the handshake completed), ERR_TLS (after), ERR_TLS_HANDSHAKE_TIMEOUT, ERR_TLS_CONFIG. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TlsError';
    this.code = code;
  }
}
