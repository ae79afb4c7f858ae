/**
 * Out of fds (pitfall 14), in a child process with a low RLIMIT_NOFILE: the
 * listener does not spin, connections wait in the accept queue until fds come
 * back (none is shed), one report line per episode; and against Node's http
 * under the same limit in the same run, ab counts no more failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requireTool, sleep, waitFor } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/emfileServer.js', import.meta.url));

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
}

interface Child {
  child: ChildProcess;
  port: number;
  stderr(): string;
}

async function startChild(kind: string, headroom: number): Promise<Child> {
  const child = spawn(process.execPath, [FIXTURE, kind, String(headroom)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor(() => /port \d+/.test(out) || child.exitCode !== null, 10_000, `${kind} child listening`);
  const m = /port (\d+)/.exec(out);
  if (!m) throw new Error(`${kind} child failed: ${err}`);
  return { child, port: Number(m[1]), stderr: () => err };
}

async function stopChild(c: Child): Promise<void> {
  if (c.child.exitCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill('SIGTERM');
  await Promise.race([exited, sleep(3000)]);
  c.child.kill('SIGKILL');
}

test('EMFILE: accepting pauses without spinning, waiting connections are all served once fds come back, one report line (pitfall 14)', async (t) => {
  const c = await startChild('echo', 12);
  t.after(() => stopChild(c));

  // Many more clients than the child has fds; each sends a line and waits for its echo.
  const N = 40;
  const echoed = new Set<number>();
  let closedByServer = 0;
  const clients: net.Socket[] = [];
  for (let i = 0; i < N; i++) {
    const s = net.connect({ port: c.port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.on('end', () => closedByServer++);
    s.on('data', () => echoed.add(i));
    s.write(`client ${i}\n`);
    clients.push(s);
  }
  await waitFor(() => echoed.size >= 5, 10_000, 'the first clients served');
  await sleep(200);
  const servedWhileShort = echoed.size;
  assert.ok(servedWhileShort < N, `all ${N} served with 12 fds of headroom?`);

  // While out of fds, the listener must not spin: sample the child's CPU for a second.
  const before = cpuTicks(c.child.pid!);
  await sleep(1000);
  const used = cpuTicks(c.child.pid!) - before;
  assert.ok(used < 50, `child used ${used} ticks of CPU in 1 s while out of fds (spinning?)`);
  assert.equal(closedByServer, 0, 'a waiting connection was shed');

  // Served clients leave, one batch at a time: every waiting one is served in turn.
  const released = new Set<number>();
  await waitFor(
    () => {
      for (const i of echoed) {
        if (!released.has(i)) {
          released.add(i);
          clients[i]!.destroy();
        }
      }
      return echoed.size === N;
    },
    20_000,
    'every client served',
  );
  for (const s of clients) s.destroy();
  assert.equal(closedByServer, 0);

  // The episode ends a second after the queue drained: one line with its counts, no stack trace.
  await waitFor(() => /out of file descriptors/.test(c.stderr()), 5000, 'the episode report');
  await sleep(300);
  const lines = c.stderr().trim().split('\n');
  assert.equal(lines.length, 1, c.stderr());
  assert.match(lines[0]!, /^edgeloop\[.*\]: accept: out of file descriptors \(EMFILE, RLIMIT_NOFILE \d+\) for [\d.]+ s: accepting paused \d+ times, (\d+) connections accepted as fds came back, none shed/);
  const accepted = Number(/(\d+) connections accepted/.exec(lines[0]!)![1]);
  assert.ok(accepted >= N - servedWhileShort, `the report counts ${accepted} accepted, ${N - servedWhileShort} waited`);
});

/** ab's counts against one child: requests that completed and failed (connect, receive, length). */
function ab(abPath: string, port: number, concurrency: number, requests: number): Promise<{ complete: number; failed: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      abPath,
      ['-r', '-s', '20', '-c', String(concurrency), '-n', String(requests), `http://127.0.0.1:${port}/hello`],
      { timeout: 60_000, maxBuffer: 1 << 20 },
      (_err, stdout, stderr) => {
        const out = `${stdout}${stderr}`;
        const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
        resolve({ complete: num(/Complete requests:\s+(\d+)/), failed: num(/Failed requests:\s+(\d+)/), out });
      },
    );
  });
}

test('EMFILE under ab: no more failures than Node http under the same RLIMIT_NOFILE in the same run', async (t) => {
  const abPath = requireTool(t, 'ab');
  if (!abPath) return;
  const results: Record<string, { complete: number; failed: number }> = {};
  let edgeloopLog = '';
  for (const kind of ['http', 'node']) {
    const c = await startChild(kind, 40);
    try {
      const r = await ab(abPath, c.port, 200, 4000);
      assert.ok(Number.isFinite(r.complete), `ab against ${kind}: ${r.out.slice(-500)}`);
      results[kind] = r;
      if (kind === 'http') edgeloopLog = c.stderr();
    } finally {
      await stopChild(c);
    }
  }
  const el = results.http!;
  const node = results.node!;
  t.diagnostic(`ab -c 200 -n 4000, 40 fds of headroom: edgeloop ${el.failed} failed, Node ${node.failed} failed`);
  assert.equal(el.complete, 4000);
  assert.ok(el.failed <= node.failed, `edgeloop failed ${el.failed}, Node ${node.failed}`);
  assert.doesNotMatch(edgeloopLog, /handler error|\n\s+at /, 'no stack traces');
  assert.ok(edgeloopLog.split('\n').filter((l) => l.includes('out of file descriptors')).length <= 2, edgeloopLog);
});
