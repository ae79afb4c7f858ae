/**
 * A declared Content-Length is a promise, not bytes: req.bytes() must not
 * reserve it up front. 50 connections each declare 16 MiB and send a few
 * bytes; the server (this thread, loops: 1) must hold memory in proportion to
 * what arrived, not to what was declared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { serve, type Handler } from '../../src/http/index.js';
import { connectClient, waitFor } from '../helpers.js';

const MiB = 1024 * 1024;

function rssBytes(): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  assert.ok(m, 'VmRSS in /proc/self/status');
  return Number(m[1]) * 1024;
}

test('req.bytes() memory follows the bytes received, not the declared Content-Length', async () => {
  const conns = 50;
  const declared = 16 * MiB;
  let collecting = 0;
  const h: Handler = async (req, res) => {
    collecting++;
    try {
      const b = await req.bytes();
      res.end(String(b.length));
    } catch {
      // the client went away mid-body: nothing to answer
    }
  };
  const server = await serve({ port: 0, handler: h, limits: { maxBodyBytes: declared }, bodyTimeout: 20_000 });
  const socks: net.Socket[] = [];
  try {
    // Settle the baseline: a GC now keeps earlier tests' garbage out of the difference.
    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = rssBytes();
    const ab0 = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < conns; i++) {
      const s = await connectClient(server.port);
      s.on('error', () => {});
      s.write(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${declared}\r\n\r\nabc`);
      socks.push(s);
    }
    await waitFor(() => collecting === conns, 10_000, `${conns} handlers in req.bytes()`);
    // Give the server a moment to read the few bytes each sent.
    await new Promise((r) => setTimeout(r, 100));
    const rssGrowth = rssBytes() - rss0;
    const abGrowth = process.memoryUsage().arrayBuffers - ab0;
    const total = conns * declared; // 800 MiB if reserved up front
    const seen = `RSS +${(rssGrowth / MiB).toFixed(1)} MiB, ArrayBuffers +${(abGrowth / MiB).toFixed(1)} MiB for ${conns} bodies declared at ${declared / MiB} MiB`;
    // Generous bounds: the honest figure is a few MiB (at most 64 KiB per connection, plus noise).
    // RSS alone can miss an up-front reservation (zeroed pages not yet touched are not resident),
    // so the ArrayBuffer total, which counts every byte V8 handed out, is checked as well.
    assert.ok(rssGrowth < total / 8, seen);
    assert.ok(abGrowth < total / 8, seen);
  } finally {
    for (const s of socks) s.destroy();
    await server.stop({ timeout: 1000 });
  }
});
