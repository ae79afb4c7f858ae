/**
 * Chromium (headless) loads the demo page over HTTPS. It trusts the test
 * certificate by its public key (--ignore-certificate-errors-spki-list, which
 * Chromium honours with its own --user-data-dir): a real browser's TLS stack
 * (BoringSSL), its ALPN offer (h2 first: edgeloop must pick http/1.1) and its
 * page load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { serve } from '../../src/http/index.js';
import { handler as demo } from '../../src/http/demo.js';
import { chromiumDom, requireTool } from '../helpers.js';
import { testCerts } from './certs.js';

test('Chromium headless loads the demo page over HTTPS (TLS 1.3, ALPN http/1.1)', async (t) => {
  const chromium = requireTool(t, 'chromium');
  if (!chromium) return;
  const c = testCerts();
  const seen: string[] = [];
  const s = await serve({
    port: 0,
    tls: { cert: c.ecCert, key: c.ecKey },
    handler: (req, res, ctx) => {
      seen.push(`${req.path} ${req.tls?.protocol} ${req.tls?.alpnProtocol}`);
      return demo(req, res, ctx);
    },
  });
  const profile = fs.mkdtempSync(path.join(c.dir, 'chromium-'));
  try {
    const r = await chromiumDom(chromium, profile, `https://localhost:${s.port}/`, [`--ignore-certificate-errors-spki-list=${c.ecSpkiHash}`]);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stdout, /\/hello/, 'the demo index was rendered');
    assert.ok(seen.some((l) => l === '/ TLSv1.3 http/1.1'), `requests seen: ${seen.join(', ')}`);
  } finally {
    await s.stop({ timeout: 1000 });
  }
});
