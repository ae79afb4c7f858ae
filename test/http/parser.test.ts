/**
 * Conformance of the request parser (RFC 9110/9112), one case per rule:
 * good requests are accepted with the right framing, bad ones are rejected
 * with the right status. Everything runs on bytes, in-process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerValue, parsePieces, parseString, split } from './parse-helper.js';
import { EV_NEED_MORE, RequestParser } from '../../src/http/parser/request-parser.js';
import { resolveLimits } from '../../src/http/parser/limits.js';

const H = 'Host: example.com\r\n';

function ok(raw: string, limits?: Parameters<typeof parseString>[1]) {
  const r = parseString(raw, limits);
  assert.equal(r.error, null, `expected acceptance, got ${r.error?.status} ${r.error?.code}: ${r.error?.message}`);
  assert.ok(r.messages.length > 0, 'expected at least one message');
  return r;
}

function rejects(raw: string | Uint8Array, status: number, code?: string, limits?: Parameters<typeof parseString>[1]) {
  const r = parseString(raw, limits);
  assert.ok(r.error, `expected ${status}, but the request was accepted`);
  assert.equal(r.error.status, status, `expected ${status}, got ${r.error.status} (${r.error.code}: ${r.error.message})`);
  if (code) assert.equal(r.error.code, code);
  return r.error;
}

test('request line: a simple GET is parsed', () => {
  const { messages } = ok(`GET /a/b?c=d HTTP/1.1\r\n${H}\r\n`);
  const m = messages[0]!;
  assert.equal(m.head.method, 'GET');
  assert.equal(m.head.target, '/a/b?c=d');
  assert.equal(m.head.versionMinor, 1);
  assert.equal(m.head.host, 'example.com');
  assert.equal(m.head.keepAlive, true);
  assert.equal(m.complete, true);
  assert.equal(m.body.length, 0);
});

test('request line: methods are tokens (extension methods accepted, case preserved)', () => {
  for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'M-SEARCH', 'get', "A!#$%&'*+-.^_`|~9"]) {
    assert.equal(ok(`${m} / HTTP/1.1\r\n${H}\r\n`).messages[0]!.head.method, m);
  }
});

test('request line: invalid method characters are 400', () => {
  for (const m of ['GE T', 'G(T', 'GET:', 'GÉT', '', 'G"T', 'G{T', 'G\tT']) {
    rejects(`${m} / HTTP/1.1\r\n${H}\r\n`, 400);
  }
});

test('request line: exactly one space between the parts', () => {
  rejects(`GET  / HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /  HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET / HTTP/1.1 \r\n${H}\r\n`, 400);
  rejects(` GET / HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET\t/\tHTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /\r\n${H}\r\n`, 400);
});

test('request line: target bytes are visible ASCII without #', () => {
  rejects(`GET /a b HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /a#frag HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /\x7f HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /\x00 HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET /\xe9 HTTP/1.1\r\n${H}\r\n`, 400);
  ok(`GET /%C3%A9?q=a|b^c[]{}"<> HTTP/1.1\r\n${H}\r\n`);
});

test('request line: target forms (origin, absolute, asterisk for OPTIONS, authority for CONNECT)', () => {
  ok(`GET http://example.com/x?y HTTP/1.1\r\n${H}\r\n`);
  ok(`GET HTTPS://example.com HTTP/1.1\r\n${H}\r\n`);
  ok(`OPTIONS * HTTP/1.1\r\n${H}\r\n`);
  ok(`CONNECT example.com:443 HTTP/1.1\r\n${H}\r\n`);
  rejects(`GET * HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET example.com HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET ftp://example.com/ HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`CONNECT / HTTP/1.1\r\n${H}\r\n`, 400);
  rejects(`GET http:// HTTP/1.1\r\n${H}\r\n`, 400);
});

test('request line: absolute-form needs a non-empty authority without userinfo, and Host naming the same', () => {
  rejects(`GET http:///x HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_INVALID_TARGET');
  rejects(`GET http://?x HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_INVALID_TARGET');
  rejects(`GET http://u:p@example.com/ HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_INVALID_TARGET');
  rejects(`GET http://other.example/ HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_HOST_MISMATCH');
  rejects(`GET https://example.com:80/ HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_HOST_MISMATCH');
  ok(`GET http://EXAMPLE.com:80/ HTTP/1.1\r\n${H}\r\n`);
  ok(`GET https://example.com:443?q HTTP/1.1\r\n${H}\r\n`);
  ok(`GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com:8080\r\n\r\n`);
  ok('GET http://example.com/ HTTP/1.0\r\n\r\n');
});

test('request line: dot-segments of the path are resolved (RFC 3986 §5.2.4, as the URL parser does); above the root is 400', () => {
  const resolved = (t: string): string | null => ok(`GET ${t} HTTP/1.1\r\n${H}\r\n`).messages[0]!.head.resolved;
  assert.equal(resolved('/a/b?c=/../d'), null);
  assert.equal(resolved('/.well-known/x'), null);
  assert.equal(resolved('/a/../b'), '/b');
  assert.equal(resolved('/a/%2E%2e/b?q=1'), '/b?q=1');
  assert.equal(resolved('/a/./b/.'), '/a/b/');
  assert.equal(resolved('http://example.com/a/b/..?x'), 'http://example.com/a/?x');
  for (const t of ['/a/../b/./c/', '/a/b/.%2e/../x', '/x/%2e/y', '//..', '/a//../b', '/a/b/c/../../d/.']) {
    const r = resolved(t) ?? t;
    assert.equal(r, new URL(`http://h${t}`).pathname, t);
  }
  for (const t of ['/..', '/a/../..', '/%2e%2e/x', '/.%2E', 'http://example.com/../x']) rejects(`GET ${t} HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_PATH_ABOVE_ROOT');
  rejects(`GET /a\\b HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_INVALID_PATH');
  ok(`GET /a?b=\\ HTTP/1.1\r\n${H}\r\n`);
});

test('version: HTTP/1.0 and 1.1 accepted, 1.x as 1.1, other majors 505, malformed 400', () => {
  assert.equal(ok('GET / HTTP/1.0\r\n\r\n').messages[0]!.head.versionMinor, 0);
  assert.equal(ok(`GET / HTTP/1.9\r\n${H}\r\n`).messages[0]!.head.versionMinor, 1);
  rejects(`GET / HTTP/2.0\r\n${H}\r\n`, 505, 'HPE_VERSION');
  rejects(`GET / HTTP/0.9\r\n${H}\r\n`, 505);
  rejects(`GET / HTTP/3.0\r\n${H}\r\n`, 505);
  rejects(`GET / HTTP/1.10\r\n${H}\r\n`, 400);
  rejects(`GET / HTTP/11\r\n${H}\r\n`, 400);
  rejects(`GET / http/1.1\r\n${H}\r\n`, 400);
  rejects(`GET / HTTP/1.a\r\n${H}\r\n`, 400);
  rejects(`GET / HTTPS/1.1\r\n${H}\r\n`, 400);
  rejects('GET /\r\n\r\n', 400); // HTTP/0.9 simple request
});

test('line endings: bare LF and bare CR are 400', () => {
  rejects(`GET / HTTP/1.1\n${H}\r\n`, 400, 'HPE_BARE_LF');
  rejects(`GET / HTTP/1.1\r\nHost: a\n\r\n`, 400, 'HPE_BARE_LF');
  rejects(`GET / HTTP/1.1\r\n${H}\n`, 400, 'HPE_BARE_LF');
  rejects(`GET / HTTP/1.1\r${H}\r\n`, 400);
  rejects(`GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n`, 400, 'HPE_BARE_CR');
  rejects(`GET / HTTP/1.1\r\nHost: a\r\r\n\r\n`, 400, 'HPE_BARE_CR');
  rejects(`GET / HTTP/1.1\r\n${H}\r\r\n`, 400);
});

test('leading empty lines before a request line are ignored (a few)', () => {
  ok(`\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`);
  rejects(`${'\r\n'.repeat(10)}GET / HTTP/1.1\r\n${H}\r\n`, 400, 'HPE_EMPTY_LINES');
});

test('header names: tokens, lowercased; whitespace before the colon is 400', () => {
  const m = ok(`GET / HTTP/1.1\r\n${H}X-Custom-Header: v\r\nACCEPT: */*\r\n\r\n`).messages[0]!;
  assert.equal(headerValue(m.head, 'x-custom-header'), 'v');
  assert.equal(headerValue(m.head, 'accept'), '*/*');
  rejects(`GET / HTTP/1.1\r\n${H}X-A : v\r\n\r\n`, 400, 'HPE_WS_BEFORE_COLON');
  rejects(`GET / HTTP/1.1\r\n${H}X-A\t: v\r\n\r\n`, 400, 'HPE_WS_BEFORE_COLON');
  rejects(`GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, 400, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`GET / HTTP/1.1\r\n${H}X(A): v\r\n\r\n`, 400, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`GET / HTTP/1.1\r\n${H}X-A v\r\n\r\n`, 400, 'HPE_INVALID_HEADER_TOKEN');
  rejects(`GET / HTTP/1.1\r\n${H}X\x00A: v\r\n\r\n`, 400);
  rejects(`GET / HTTP/1.1\r\n${H}X\xe9: v\r\n\r\n`, 400);
});

test('header values: OWS trimmed, obs-text kept, controls and NUL are 400', () => {
  const m = ok(`GET / HTTP/1.1\r\n${H}A:  \t x y \t \r\nB:\r\nC: caf\xe9\r\n\r\n`).messages[0]!;
  assert.equal(headerValue(m.head, 'a'), 'x y');
  assert.equal(headerValue(m.head, 'b'), '');
  assert.equal(headerValue(m.head, 'c'), 'café');
  rejects(`GET / HTTP/1.1\r\n${H}A: x\x00y\r\n\r\n`, 400, 'HPE_INVALID_HEADER_VALUE');
  rejects(`GET / HTTP/1.1\r\n${H}A: x\x01y\r\n\r\n`, 400);
  rejects(`GET / HTTP/1.1\r\n${H}A: x\x7fy\r\n\r\n`, 400);
  rejects(`GET / HTTP/1.1\r\n${H}A: x\x1by\r\n\r\n`, 400);
});

test('obs-fold (continuation lines) is 400', () => {
  rejects(`GET / HTTP/1.1\r\n${H}A: x\r\n y\r\n\r\n`, 400, 'HPE_OBS_FOLD');
  rejects(`GET / HTTP/1.1\r\n${H}A: x\r\n\ty\r\n\r\n`, 400, 'HPE_OBS_FOLD');
  rejects(`GET / HTTP/1.1\r\n Host: a\r\n\r\n`, 400, 'HPE_OBS_FOLD');
});

test('Host: required once in HTTP/1.1; optional in 1.0; validated', () => {
  rejects('GET / HTTP/1.1\r\n\r\n', 400, 'HPE_MISSING_HOST');
  rejects(`GET / HTTP/1.1\r\n${H}${H}\r\n`, 400, 'HPE_DUPLICATE_HOST');
  rejects(`GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n`, 400, 'HPE_DUPLICATE_HOST');
  rejects('GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n', 400, 'HPE_DUPLICATE_HOST');
  rejects('GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400, 'HPE_INVALID_HOST');
  rejects('GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400, 'HPE_INVALID_HOST');
  ok('GET / HTTP/1.0\r\n\r\n');
  ok('GET / HTTP/1.1\r\nHost:\r\n\r\n'); // empty Host is allowed when there is no authority
  ok('GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n');
  ok('GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n');
});

test('Content-Length: digits only, identical duplicates allowed, different ones 400, overflow 400', () => {
  const m = ok(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello`).messages[0]!;
  assert.equal(m.body.toString(), 'hello');
  assert.equal(m.complete, true);
  ok(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`);
  ok(`POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`);
  ok(`POST / HTTP/1.1\r\n${H}Content-Length: 0005\r\n\r\nhello`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello`, 400, 'HPE_CONTENT_LENGTH_MISMATCH');
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello`, 400, 'HPE_CONTENT_LENGTH_MISMATCH');
  for (const bad of ['-5', '+5', '5a', '0x5', '5.0', '5 5', '', ' ', '5,', ',5', '1e3']) {
    rejects(`POST / HTTP/1.1\r\n${H}Content-Length: ${bad}\r\n\r\nhello`, 400);
  }
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\n`, 400, 'HPE_CONTENT_LENGTH_OVERFLOW');
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 9007199254740992\r\n\r\n`, 400, 'HPE_CONTENT_LENGTH_OVERFLOW');
});

test('Transfer-Encoding: chunked last; both CL and TE is 400 (no smuggling); others 501/400', () => {
  const m = ok(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`).messages[0]!;
  assert.equal(m.body.toString(), 'hello');
  assert.equal(m.head.chunked, true);
  ok(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n0\r\n\r\n`);
  ok(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n`);
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'HPE_CL_AND_TE');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, 400, 'HPE_CL_AND_TE');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400, 'HPE_TE_CHUNKED_NOT_LAST');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 400, 'HPE_TE_CHUNKED_NOT_LAST');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, 'HPE_TE_CHUNKED_TWICE');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`, 400, 'HPE_TE_CHUNKED_TWICE');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501, 'HPE_TE_NOT_IMPLEMENTED');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n`, 501);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: \r\n\r\n`, 400);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chu nked\r\n\r\n`, 400);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n`, 400);
  rejects('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'HPE_TE_HTTP10');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;x=1\r\n\r\n0\r\n\r\n`, 400, 'HPE_TE_CHUNKED_PARAMS');
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked ;q=1\r\n\r\n0\r\n\r\n`, 400, 'HPE_TE_CHUNKED_PARAMS');
});

test('chunked: sizes hex and overflow-checked, data followed by CRLF, extensions validated and bounded', () => {
  const body = (chunks: string) => `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunks}`;
  assert.equal(ok(body('A\r\n0123456789\r\na\r\n0123456789\r\n000\r\n\r\n')).messages[0]!.body.length, 20);
  assert.equal(ok(body('00000000000000000001\r\nx\r\n0\r\n\r\n')).messages[0]!.body.toString(), 'x');
  ok(body('1;name\r\nx\r\n1 ; a=b ;c="q\\"d"\r\ny\r\n0;last\r\n\r\n'));
  rejects(body('g\r\n'), 400, 'HPE_INVALID_CHUNK_SIZE');
  rejects(body('\r\n'), 400, 'HPE_INVALID_CHUNK_SIZE');
  rejects(body('-1\r\n'), 400);
  rejects(body('0x1\r\nx\r\n0\r\n\r\n'), 400);
  rejects(body('1 \r\nx\r\n0\r\n\r\n'), 400, 'HPE_INVALID_CHUNK_EXTENSION');
  rejects(body('fffffffffffffffffff\r\n'), 400, 'HPE_CHUNK_SIZE_OVERFLOW');
  rejects(body('1\r\nxy\r\n0\r\n\r\n'), 400, 'HPE_CHUNK_DATA_END');
  rejects(body('1\r\nx\n0\r\n\r\n'), 400, 'HPE_CHUNK_DATA_END');
  rejects(body('1\nx\r\n0\r\n\r\n'), 400, 'HPE_BARE_LF');
  rejects(body('1;\r\nx\r\n0\r\n\r\n'), 400, 'HPE_INVALID_CHUNK_EXTENSION');
  rejects(body('1;a=\r\nx\r\n0\r\n\r\n'), 400, 'HPE_INVALID_CHUNK_EXTENSION');
  rejects(body('1;a="x\r\nx\r\n0\r\n\r\n'), 400, 'HPE_INVALID_CHUNK_EXTENSION');
  rejects(body('1;a=b c\r\nx\r\n0\r\n\r\n'), 400, 'HPE_INVALID_CHUNK_EXTENSION');
  rejects(body(`1;${'a'.repeat(2000)}\r\nx\r\n0\r\n\r\n`), 400, 'HPE_CHUNK_LINE_TOO_LONG');
  rejects(body(`1;${'a'.repeat(2000)}`), 400, 'HPE_CHUNK_LINE_TOO_LONG'); // even before its LF arrives
  // the per-body budget: many chunks each carrying a legal extension
  rejects(body(`1;${'a'.repeat(900)}\r\nx\r\n`.repeat(20)), 400, 'HPE_CHUNK_EXTENSIONS');
});

test('chunked: trailers parsed and bounded', () => {
  const m = ok(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Sum: abc\r\nX-Other: 1\r\n\r\n`).messages[0]!;
  assert.deepEqual(m.head.trailers, ['x-sum', 'abc', 'x-other', '1']);
  assert.equal(m.complete, true);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX-Sum abc\r\n\r\n`, 400);
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n`, 400, 'HPE_OBS_FOLD');
  rejects(
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n${'X: y\r\n'.repeat(20)}\r\n`,
    431,
    'HPE_HEADER_COUNT',
    { maxHeaderCount: 10 },
  );
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX: ${'y'.repeat(600)}\r\n\r\n`, 431, 'HPE_HEADER_OVERFLOW', {
    maxHeaderBytes: 512,
  });
});

test('limits: request line 414, header bytes and count 431, body 413 — each an option', () => {
  rejects(`GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, 414, 'HPE_URI_TOO_LONG');
  rejects(`GET /${'a'.repeat(9000)}`, 414, 'HPE_URI_TOO_LONG'); // before the line ends
  ok(`GET /${'a'.repeat(9000)} HTTP/1.1\r\n${H}\r\n`, { maxRequestLineBytes: 10000 });
  rejects(`GET /${'a'.repeat(100)} HTTP/1.1\r\n${H}\r\n`, 414, undefined, { maxRequestLineBytes: 64 });

  rejects(`GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(20000)}\r\n\r\n`, 431, 'HPE_HEADER_OVERFLOW');
  rejects(`GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(20000)}`, 431, 'HPE_HEADER_OVERFLOW'); // before the line ends
  ok(`GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(20000)}\r\n\r\n`, { maxHeaderBytes: 32768 });
  rejects(`GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(101)}\r\n`, 431, 'HPE_HEADER_COUNT');
  ok(`GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(99)}\r\n`);
  rejects(`GET / HTTP/1.1\r\n${H}${'X-A: b\r\n'.repeat(5)}\r\n`, 431, 'HPE_HEADER_COUNT', { maxHeaderCount: 5 });

  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: ${16 * 1024 * 1024 + 1}\r\n\r\n`, 413, 'HPE_BODY_TOO_LARGE');
  rejects(`POST / HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\n`, 413, undefined, { maxBodyBytes: 10 });
  ok(`POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n0123456789`, { maxBodyBytes: 10 });
  rejects(`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n`, 413, undefined, {
    maxBodyBytes: 10,
  });
});

test('Connection: keep-alive defaults per version; close wins', () => {
  const ka = (raw: string) => ok(raw).messages[0]!.head.keepAlive;
  assert.equal(ka(`GET / HTTP/1.1\r\n${H}\r\n`), true);
  assert.equal(ka(`GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`), false);
  assert.equal(ka(`GET / HTTP/1.1\r\n${H}Connection: Keep-Alive, CLOSE\r\n\r\n`), false);
  assert.equal(ka(`GET / HTTP/1.1\r\n${H}Connection: upgrade\r\n\r\n`), true);
  assert.equal(ka('GET / HTTP/1.0\r\n\r\n'), false);
  assert.equal(ka('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), true);
  assert.equal(ka('GET / HTTP/1.0\r\nConnection: te, Keep-Alive\r\n\r\n'), true);
  assert.equal(ka('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n'), false);
});

test('Expect: 100-continue recognised (1.1 only); other expectations 417', () => {
  assert.equal(ok(`POST / HTTP/1.1\r\n${H}Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx`).messages[0]!.head.expectContinue, true);
  assert.equal(ok('POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx').messages[0]!.head.expectContinue, false);
  rejects(`POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`, 417);
});

test('header names and values that look like prototype keys are plain data', () => {
  const m = ok(`GET / HTTP/1.1\r\n${H}__proto__: x\r\nconstructor: y\r\nhasOwnProperty: z\r\n\r\n`).messages[0]!;
  assert.equal(headerValue(m.head, '__proto__'), 'x');
  assert.equal(headerValue(m.head, 'constructor'), 'y');
  assert.equal(headerValue(m.head, 'hasownproperty'), 'z');
});

test('pipelining: several requests in one buffer, each with its body', () => {
  const raw =
    `GET /1 HTTP/1.1\r\n${H}\r\n` +
    `POST /2 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc` +
    `POST /3 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n` +
    `GET /4 HTTP/1.1\r\n${H}\r\n`;
  const { messages } = ok(raw);
  assert.deepEqual(
    messages.map((m) => [m.head.target, m.body.toString(), m.complete]),
    [
      ['/1', '', true],
      ['/2', 'abc', true],
      ['/3', 'de', true],
      ['/4', '', true],
    ],
  );
});

test('incremental: any split of the input gives the same messages, byte by byte included', () => {
  const raw = Buffer.from(
    `GET /x?y=z HTTP/1.1\r\n${H}Accept: */*\r\n\r\n` +
      `POST /u HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n` +
      `PUT /v HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\nwxyz`,
    'latin1',
  );
  const whole = parsePieces([raw]);
  const bytewise = parsePieces([...raw].map((b) => Uint8Array.of(b)));
  const summary = (r: typeof whole) => r.messages.map((m) => [m.head.method, m.head.target, m.body.toString(), m.complete, m.head.trailers]);
  assert.deepEqual(summary(bytewise), summary(whole));
  for (let cut = 0; cut < raw.length; cut += 7) {
    assert.deepEqual(summary(parsePieces(split(raw, [cut, cut + 3]))), summary(whole));
  }
});

test('a partial request is left unconsumed, not an error', () => {
  const r = parseString(`GET / HTTP/1.1\r\n${H}X-Partial: ab`);
  assert.equal(r.error, null);
  assert.equal(r.messages.length, 0);
  assert.ok(r.leftover > 0);
});

test('the parser is dead after an error (the connection must close)', () => {
  const r = parsePieces([Buffer.from('GET / HTTP/1.1\nHost: a\r\n\r\n'), Buffer.from(`GET / HTTP/1.1\r\n${H}\r\n`)]);
  assert.equal(r.error?.status, 400);
});

test('line ends are found in lines of every length around the short-line scan (47 to 50 bytes), and past it', () => {
  for (const len of [0, 1, 46, 47, 48, 49, 50, 51, 200]) {
    const value = 'v'.repeat(len);
    const { messages } = ok(`GET / HTTP/1.1\r\n${H}X-Len: ${value}\r\nX-After: 1\r\n\r\n`);
    assert.equal(headerValue(messages[0]!.head, 'x-len'), value.length > 0 ? value : '', `value of ${len} bytes`);
    assert.equal(headerValue(messages[0]!.head, 'x-after'), '1');
  }
});

test('an incomplete line stops at the end of the input, whatever lies in the buffer beyond it', () => {
  // The connection parses inside a larger read buffer: a stale LF past `end` must not end the line.
  const line = `GET / HTTP/1.1\r\n${H}X-Long: ${'a'.repeat(80)}`;
  const buf = Buffer.from(`${line}\r\nX-Stale: yes\r\n\r\n`, 'latin1');
  for (const end of [line.length, line.length - 60, line.length - 10]) {
    const p = new RequestParser(resolveLimits({}));
    let pos = 0;
    for (;;) {
      const ev = p.execute(buf, pos, end);
      pos = p.pos;
      if (ev === EV_NEED_MORE) break;
    }
    assert.ok(pos <= end, `consumed past end ${end}`);
    assert.ok(p.inHead, 'still waiting for the rest of the head');
  }
});
