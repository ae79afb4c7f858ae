/**
 * A Node TLS client for the tests: connects (trusting the test CA), sends
 * `payload` and half-closes, and collects everything until the server's end.
 */
import tls from 'node:tls';
import { within } from '../helpers.js';
import { testCerts } from './certs.js';

export function tlsExchange(port: number, payload: string, opts: tls.ConnectionOptions = {}): Promise<string> {
  return within(
    5000,
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: testCerts().ca, servername: 'localhost', ...opts }, () => s.end(payload));
      let b = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (b += d));
      s.on('end', () => resolve(b));
      s.on('error', reject);
    }),
    'TLS exchange',
  );
}
