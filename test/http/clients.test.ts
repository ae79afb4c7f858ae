/**
 * Real HTTP clients against the demo server when they are installed: curl
 * (keep-alive, chunked upload, HEAD, 100-continue), ab (the seed's
 * `ab -n 1000 -c 94 -k`, every request must complete) and wrk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { serve, type HttpServer } from '../../src/http/index.js';
import { handler as demo } from '../../src/http/demo.js';
import { requireTool } from '../helpers.js';

function exec(cmd: string, args: string[], input?: Buffer, timeout = 60000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024, encoding: 'latin1' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input) child.stdin!.end(input);
  });
}

async function withDemo(fn: (s: HttpServer) => Promise<void>, loops = 1): Promise<void> {
  const s =
    loops === 1
      ? await serve({ port: 0, handler: demo })
      : await serve({ port: 0, loops, module: new URL('../../src/http/demo.js', import.meta.url) });
  try {
    await fn(s);
  } finally {
    await s.stop({ timeout: 3000 });
  }
}

test('curl: GET, keep-alive reuse, POST echo, chunked upload, HEAD, 100-continue', async (t) => {
  const curl = requireTool(t, 'curl');
  if (!curl) return;
  await withDemo(async (s) => {
    const get = await exec(curl, ['-sS', '-v', `${s.url}/hello`, `${s.url}/hello`]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, 'hellohello');
    assert.match(get.stderr, /Re-using existing connection|Reusing existing connection/);

    const post = await exec(curl, ['-sS', '-H', 'Content-Type: text/x-curl', '--data-binary', '@-', `${s.url}/echo`], Buffer.from('posted by curl'));
    assert.equal(post.stdout, 'posted by curl');

    const big = Buffer.alloc(3 * 1024 * 1024, 0x7a);
    const up = await exec(curl, ['-sS', '-H', 'Transfer-Encoding: chunked', '-H', 'Content-Type: application/octet-stream', '--data-binary', '@-', `${s.url}/echo`], big);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.length, big.length);

    const head = await exec(curl, ['-sS', '-I', `${s.url}/bytes?n=12345`]);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK/);
    assert.match(head.stdout, /Content-Length: 12345/i);

    const cont = await exec(curl, ['-sS', '-v', '-H', 'Expect: 100-continue', '--data-binary', '@-', `${s.url}/echo`], Buffer.alloc(2 * 1024 * 1024, 0x41));
    assert.match(cont.stderr, /HTTP\/1\.1 100 Continue/);
    assert.equal(cont.stdout.length, 2 * 1024 * 1024);
  });
});

test("ab -n 1000 -c 94 -k (the seed's run): every request completes", async (t) => {
  const ab = requireTool(t, 'ab');
  if (!ab) return;
  for (const loops of [1, 2]) {
    await withDemo(async (s) => {
      const r = await exec(ab, ['-n', '1000', '-c', '94', '-k', '-s', '20', `${s.url}/hello`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Complete requests:\s+1000\b/);
      assert.match(r.stdout, /Failed requests:\s+0\b/);
      assert.match(r.stdout, /Keep-Alive requests:\s+1000\b/);
      assert.doesNotMatch(r.stdout, /Non-2xx responses/);
    }, loops);
  }
});

test('ab without keep-alive (short connections): every request completes', async (t) => {
  const ab = requireTool(t, 'ab');
  if (!ab) return;
  await withDemo(async (s) => {
    const r = await exec(ab, ['-n', '2000', '-c', '50', '-s', '20', `${s.url}/hello`]);
    assert.match(r.stdout, /Complete requests:\s+2000\b/);
    assert.match(r.stdout, /Failed requests:\s+0\b/);
  });
});

test('wrk: a short keep-alive run has no errors and no non-2xx', async (t) => {
  const wrk = requireTool(t, 'wrk');
  if (!wrk) return;
  await withDemo(async (s) => {
    const r = await exec(wrk, ['-t1', '-c32', '-d1s', `${s.url}/hello`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /requests in/);
    assert.doesNotMatch(r.stdout, /Non-2xx|Socket errors/);
  });
});

test('siege -b (a seed\'s client): every transaction succeeds, keep-alive and not', async (t) => {
  const siege = requireTool(t, 'siege');
  if (!siege) return;
  await withDemo(async (s) => {
    for (const connection of ['keep-alive', 'close']) {
      // -R /dev/null: no user .siegerc; -l /dev/null: no log file left behind.
      const r = await exec(siege, ['-R', '/dev/null', '-l', '/dev/null', '-b', '-q', '-j', '-c', '20', '-r', '50', '-H', `Connection: ${connection}`, `${s.url}/hello`]);
      const out = r.stdout + r.stderr;
      assert.match(out, /"successful_transactions":\s*1000\b/, `${connection}: ${out}`);
      assert.match(out, /"failed_transactions":\s*0\b/, `${connection}: ${out}`);
    }
  }, 2);
});
