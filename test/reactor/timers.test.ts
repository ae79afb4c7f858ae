import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLoop } from '../../src/reactor/index.js';
import { within } from '../helpers.js';

test('timers fire in deadline order, cancel works, runEvery repeats', async () => {
  const loop = new EventLoop();
  try {
    const order: string[] = [];
    // Deadlines 200 ms apart: each is taken from the clock when it is added, so a loaded
    // machine pausing this thread between two runAfter calls must not swap their order.
    await within(5000, new Promise<void>((resolve) => {
      loop.runAfter(600, () => order.push('c'));
      loop.runAfter(200, () => order.push('a'));
      loop.runAfter(400, () => order.push('b'));
      const cancelled = loop.runAfter(300, () => order.push('never'));
      cancelled.cancel();
      let n = 0;
      const every = loop.runEvery(5, () => {
        n++;
        if (n === 3) every.cancel();
      });
      loop.runAfter(800, () => {
        order.push(`every=${n}`);
        resolve();
      });
    }), 'timers');
    assert.deepEqual(order, ['a', 'b', 'c', 'every=3']);
  } finally {
    loop.quit();
  }
});

test('a throwing timer callback is reported and the loop goes on', async () => {
  const errors: unknown[] = [];
  const loop = new EventLoop({ onError: (e) => errors.push(e) });
  try {
    await within(2000, new Promise<void>((resolve) => {
      loop.runAfter(1, () => {
        throw new Error('boom');
      });
      loop.runAfter(5, resolve);
    }), 'timers after a throw');
    assert.equal(errors.length, 1);
  } finally {
    loop.quit();
  }
});

test('100k timers are cheap to create and cancel', () => {
  const loop = new EventLoop();
  try {
    const ts = [];
    for (let i = 0; i < 100_000; i++) ts.push(loop.runAfter(60_000 + i, () => {}));
    for (const t of ts) t.cancel();
    assert.equal(loop.timers.size, 100_000); // cancelled lazily, dropped when they reach the top
  } finally {
    loop.quit();
  }
});

test('queueInLoop runs functors after the current work, in order', async () => {
  const loop = new EventLoop();
  try {
    const seen: number[] = [];
    await within(2000, new Promise<void>((resolve) => {
      loop.queueInLoop(() => {
        seen.push(1);
        loop.queueInLoop(() => {
          seen.push(3);
          resolve();
        });
      });
      loop.queueInLoop(() => seen.push(2));
    }), 'functors');
    assert.deepEqual(seen, [1, 2, 3]);
  } finally {
    loop.quit();
  }
});

test('after quit() queued work never runs: functors queued before, during or after it are dropped', async () => {
  const loop = new EventLoop();
  const ran: string[] = [];
  loop.queueInLoop(() => ran.push('before'));
  loop.quit();
  assert.equal(loop.queueInLoop(() => ran.push('after')), false, 'queueInLoop says it dropped the functor');

  // quit() from inside a functor: the rest of that batch does not run either.
  const inner = new EventLoop();
  inner.queueInLoop(() => {
    ran.push('first');
    inner.quit();
  });
  inner.queueInLoop(() => ran.push('same batch, after quit'));
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(ran, ['first']);
});

test('runAfter rejects NaN, negative and infinite delays with a RangeError naming the value; 0 is fine', async () => {
  const loop = new EventLoop();
  try {
    for (const bad of [NaN, -1, -0.5, Infinity, -Infinity]) {
      assert.throws(
        () => loop.runAfter(bad, () => {}),
        (e: Error) => e instanceof RangeError && e.message.includes(String(bad)),
        `runAfter(${bad})`,
      );
      assert.throws(() => loop.runEvery(bad, () => {}), RangeError, `runEvery(${bad})`);
    }
    assert.throws(() => loop.runEvery(0, () => {}), RangeError);
    assert.equal(loop.timers.size, 0, 'nothing was scheduled');
    await within(2000, new Promise<void>((resolve) => loop.runAfter(0, resolve)), 'runAfter(0)');
  } finally {
    loop.quit();
  }
});

test('a loop with an index but no shared stats buffer gets a slab of its own', () => {
  const loop = new EventLoop({ index: 3 });
  try {
    assert.equal(loop.stats.index, 3);
    assert.equal(loop.stats.snapshot().accepted, 0);
  } finally {
    loop.quit();
  }
});
