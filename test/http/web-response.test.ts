/**
 * The fast Response on its own: a Response in every observable way (instanceof, members,
 * statics, errors as undici throws them), its real undici Response built only when a member
 * beyond status, headers and clone() is used. No server here; fetch-fast.test.ts serves them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse, installFastResponse, RealResponse } from '../../src/http/web-response.js';

const undiciResponse = globalThis.Response;
/** Typed as the standard has it: the status is optional (302). */
const redirect = (url: string | URL, status?: number): Response => (Response.redirect as (u: string | URL, s?: number) => Response)(url, status);
installFastResponse();

test('installing: Response is the fast class; undici Responses and fast ones are both instanceof Response', async () => {
  assert.equal(globalThis.Response, FastResponse);
  assert.equal(RealResponse, undiciResponse);
  installFastResponse(); // idempotent
  const fast = new Response('x');
  assert.ok(fast instanceof Response);
  assert.ok(fast instanceof undiciResponse);
  assert.ok(new undiciResponse('y') instanceof Response, 'a Response made before install, or by fetch()');
  assert.ok(Response.error() instanceof Response);
  assert.ok(!({}  instanceof Response));
  assert.equal(Object.prototype.toString.call(fast), '[object Response]');
  assert.equal(fast.constructor, Response);
  class Mine extends Response {}
  const m = new Mine('z');
  assert.ok(m instanceof Mine);
  assert.ok(!(fast instanceof Mine), 'a subclass keeps ordinary instanceof');
  assert.equal(await m.text(), 'z');
});

test('fast members: status, ok, statusText, headers (default Content-Type), type, url, redirected, bodyUsed', () => {
  const r = new Response('hello', { status: 201, statusText: 'Made', headers: { 'X-A': ' 1 ' } });
  assert.equal(r.status, 201);
  assert.equal(r.ok, true);
  assert.equal(r.statusText, 'Made');
  assert.equal(r.headers.get('x-a'), '1', 'values trimmed as undici does');
  assert.equal(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(r.headers, r.headers);
  assert.equal(r.type, 'default');
  assert.equal(r.url, '');
  assert.equal(r.redirected, false);
  assert.equal(r.bodyUsed, false);
  assert.equal(new Response(new Uint8Array([1])).headers.get('content-type'), null, 'bytes get no Content-Type');
  assert.equal(new Response('x', { headers: { 'content-type': 'text/html' } }).headers.get('content-type'), 'text/html');
  assert.equal(new Response(null, { status: 404 }).ok, false);
});

test('errors are thrown where undici throws them', () => {
  for (const [body, init, type] of [
    ['x', { status: 199 }, RangeError],
    ['x', { status: 600 }, RangeError],
    ['x', { status: 204 }, TypeError],
    ['', { status: 304 }, TypeError],
    ['x', { headers: { 'bad name': '1' } }, TypeError],
    ['x', { headers: { a: 'line\nbreak' } }, TypeError],
    ['x', { headers: [['only-name']] }, TypeError],
    ['x', { statusText: 'bad\r\n' }, TypeError],
  ] as [string, ResponseInit, ErrorConstructor][]) {
    assert.throws(() => new Response(body, init), type, JSON.stringify(init));
    assert.throws(() => new undiciResponse(body, init), type, `undici too: ${JSON.stringify(init)}`);
  }
  assert.throws(() => redirect('http://a.test/', 200), RangeError);
  assert.throws(() => redirect('/relative'), TypeError);
  assert.throws(() => Response.json(undefined), TypeError);
});

test('the rest of a Response: text, json, arrayBuffer, blob, body, bytes from the real one, made once; then bodyUsed', async () => {
  const r = new Response('{"a":1}', { headers: [['x-b', '2']] });
  assert.equal(FastResponse.parts(r)?.body, '{"a":1}');
  assert.deepEqual(await r.json(), { a: 1 });
  assert.equal(FastResponse.parts(r), null, 'the real Response holds it now');
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.text(), TypeError);
  assert.equal(r.headers.get('x-b'), '2');
  assert.equal(new TextDecoder().decode(await new Response(new Uint16Array([0x6968])).arrayBuffer()), 'hi');
  assert.equal(await (await new Response(new TextEncoder().encode('blob')).blob()).text(), 'blob');
  const s = new Response('streamed');
  assert.ok(s.body instanceof ReadableStream);
  assert.equal(await new Response(s.body).text(), 'streamed');
  const b = new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('st')), c.close()) }));
  assert.equal(FastResponse.parts(b), null, 'a stream body is undici\'s from the start');
  assert.equal(await b.text(), 'st');
  const form = new Response(new URLSearchParams('a=1'));
  assert.equal(form.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
});

test('clone(): a fast copy from the same source, headers copied; changes to one do not reach the other', async () => {
  const r = new Response('same', { status: 202, headers: { 'x-c': '1' } });
  const c = r.clone();
  assert.ok(c instanceof Response);
  c.headers.set('x-c', '2');
  assert.equal(r.headers.get('x-c'), '1');
  assert.equal(c.status, 202);
  assert.equal(await c.text(), 'same');
  assert.equal(await r.text(), 'same');
  assert.equal(c.bodyUsed && r.bodyUsed, true);
  assert.throws(() => r.clone(), TypeError, 'a used body cannot be cloned');
});

test('statics: json (Content-Type unless given), redirect (Location, status), error (undici\'s)', () => {
  const j = Response.json({ a: [1] }, { status: 418, headers: { 'x-j': '1' } });
  assert.equal(j.status, 418);
  assert.equal(j.headers.get('content-type'), 'application/json');
  assert.equal(j.headers.get('x-j'), '1');
  assert.equal(FastResponse.parts(j)?.body, '{"a":[1]}');
  assert.equal(Response.json(1, { headers: { 'content-type': 'text/json' } }).headers.get('content-type'), 'text/json');
  const r = Response.redirect('http://example.test/a?b=1', 301);
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), 'http://example.test/a?b=1');
  assert.equal(redirect(new URL('HTTP://EXAMPLE.test/./x')).headers.get('location'), 'http://example.test/x');
  assert.equal(redirect('http://example.test/').status, 302);
  const e = Response.error();
  assert.equal(e.type, 'error');
  assert.equal(e.status, 0);
});

test('headers given as a Headers object are copied at construction; several Set-Cookie stay apart', () => {
  const h = new Headers();
  h.append('set-cookie', 'a=1');
  h.append('set-cookie', 'b=2');
  const r = new Response(null, { headers: h });
  h.set('x-late', '1');
  assert.equal(r.headers.get('x-late'), null);
  assert.deepEqual(r.headers.getSetCookie(), ['a=1', 'b=2']);
  const pairs = new Response('', { headers: [['set-cookie', 'c=3'], ['set-cookie', 'd=4']] });
  assert.deepEqual(pairs.headers.getSetCookie(), ['c=3', 'd=4']);
});
