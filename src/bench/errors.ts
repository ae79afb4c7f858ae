/**
 * A mistake on the command line. Thread: any. Owns nothing.
 * The CLI prints its message and exits with status 2; everything else that
 * goes wrong during a run is data for the report, not an exception.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
