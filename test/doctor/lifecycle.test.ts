/**
 * Targets that change while doctor samples them: a server that exits must not
 * be reported as healthy (exit 0); a child that exits is said to be missing
 * from the evidence. The servers are small Node scripts started here and
 * killed after each test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDoctor } from '../../src/doctor/run.js';
import { TargetError } from '../../src/doctor/discover.js';
import { codes, runCli, sleep, startProgram } from './helpers.js';

/** A listener on 127.0.0.1 that exits by itself `lifeMs` after it is ready; with `childMs`, it also runs a child that exits then. */
function server(lifeMs: number, childMs = 0): string[] {
  const src = `
    const net = require('node:net');
    const { spawn } = require('node:child_process');
    const s = net.createServer((c) => c.destroy());
    s.listen(0, '127.0.0.1', () => {
      if (${childMs} > 0) spawn(process.execPath, ['-e', 'setTimeout(() => {}, ${childMs})'], { stdio: 'ignore' });
      console.log('port ' + s.address().port + '\\nready');
      setTimeout(() => process.exit(0), ${lifeMs});
    });
  `;
  return ['-e', src];
}

test('the target exits during the sample: TargetError (exit 2 from the CLI), not a healthy report', async (t) => {
  const s = await startProgram(process.execPath, server(700));
  t.after(() => s.stop());
  // A long sample (10 s) that ends early: what shows doctor stopped once the target was gone
  // is that it did not take the whole sample, with seconds of margin for a loaded machine.
  const started = Date.now();
  await assert.rejects(runDoctor({ pid: s.pid, seconds: 10 }), (err: unknown) => {
    assert.ok(err instanceof TargetError, String(err));
    assert.match(err.message, new RegExp(`pid ${s.pid} exited during the sample`));
    return true;
  });
  assert.ok(Date.now() - started < 8000, 'doctor stops sampling once the target is gone');

  // The CLI needs to start and find the target before it exits: give it seconds, not 700 ms.
  const s2 = await startProgram(process.execPath, server(3000));
  t.after(() => s2.stop());
  const cli = await runCli(['doctor', '--port', String(s2.port), '--seconds', '10', '--json']);
  assert.equal(cli.code, 2, `exit 2 when every holder of the port exited (stdout: ${cli.stdout})`);
  const doc = JSON.parse(cli.stdout) as { error?: string };
  assert.match(doc.error ?? '', /exited during the sample/);
});

test('a child of the target exits during the sample: LIMITED_VIEW names it, the rest is still reported', async (t) => {
  const s = await startProgram(process.execPath, server(10_000, 600));
  t.after(() => s.stop());
  await sleep(100);
  const r = await runDoctor({ pid: s.pid, seconds: 1.5 });
  assert.equal(r.data.listeners.length, 1, 'the listener is still reported');
  assert.equal(r.data.target.pids.length, 2, 'parent and child were in scope');
  const child = r.data.target.pids.find((p) => p !== s.pid)!;
  assert.deepEqual(r.data.target.exited, [child]);
  const lv = r.findings.find((f) => f.code === 'LIMITED_VIEW');
  assert.ok(lv, `findings: ${codes(r.findings)}`);
  assert.match(lv.message, new RegExp(`exited during the sample: ${child}`));
});

test('--pid of a zombie: exit 2 saying it exited and who has not reaped it', async (t) => {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  // The shell's background child becomes a child of the exec'd sleep, which never reaps it.
  const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 20'], { stdio: 'ignore' });
  t.after(() => parent.kill('SIGKILL'));
  let zombie: number | undefined;
  for (let i = 0; i < 50 && zombie === undefined; i++) {
    await sleep(50);
    const kids = fs.readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    zombie = kids.map(Number).find((k) => /\) Z /.test(fs.readFileSync(`/proc/${k}/stat`, 'utf8')));
  }
  if (zombie === undefined) return t.skip('could not make a zombie process here');
  const r = await runCli(['doctor', '--pid', String(zombie), '--seconds', '0.2']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`pid ${zombie} has exited \\(zombie, not reaped by its parent ${parent.pid}\\)`));
});
