/**
 * One fetch-handler server around a test body: started on a kernel port, always stopped.
 * Thread: the test's. Owns the server it starts.
 */
import { serve, type FetchHandler, type HttpServer } from '../../src/http/index.js';

/** Handler errors (answered with 500) land in `errors` when given. */
export async function withFetch(fetchFn: FetchHandler, fn: (s: HttpServer) => Promise<void>, errors?: unknown[]): Promise<void> {
  const s = await serve({ port: 0, fetch: fetchFn, onError: (e) => errors?.push(e) });
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 2000 });
  }
}
