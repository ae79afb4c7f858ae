import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { roundTrip, sleep, waitFor, within } from '../helpers.js';

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
}

test('EMFILE: sheds the pending connections, does not spin, recovers when fds free up (pitfall 14)', async (t) => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/emfileServer.js', import.meta.url)), '12'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.resume();
  await waitFor(() => /port \d+/.test(out), 10_000, 'child listening');
  const port = Number(/port (\d+)/.exec(out)![1]);

  // Many more clients than the child has fds.
  const clients: net.Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < 40; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.on('end', () => closedByServer++);
    clients.push(s);
  }
  await waitFor(() => /shed \d+/.test(out), 10_000, 'connections shed');
  await sleep(200);

  // While exhausted, the listener must not spin: sample the child's CPU for a second.
  const before = cpuTicks(child.pid!);
  await sleep(1000);
  const used = cpuTicks(child.pid!) - before;
  assert.ok(used < 50, `child used ${used} ticks of CPU in 1 s while out of fds (spinning?)`);

  const shed = [...out.matchAll(/shed (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  assert.ok(shed > 0);
  await waitFor(() => closedByServer >= shed, 5000, 'shed clients see a close');

  // Free the fds: the server must serve again.
  for (const s of clients) s.destroy();
  await sleep(300);
  const got = await within(10_000, (async () => {
    for (;;) {
      try {
        return await roundTrip(port, 'after-recovery');
      } catch {
        await sleep(100);
      }
    }
  })(), 'recovery');
  assert.equal(got.toString(), 'after-recovery');
  child.kill('SIGTERM');
});
