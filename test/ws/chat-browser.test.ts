/**
 * The live chat on the demo index page, in headless Chromium: the page
 * joins /pubsub/demo (its "joined" line reaches a subscriber on whichever
 * loop), and a line that subscriber sends shows up in the page's DOM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { chromiumDom, requireTool, startCli, within } from '../helpers.js';

const READY = /^listening on http:\/\/([^\s]+):(\d+) /m;

test('the index page chats over /pubsub/demo with another subscriber, in Chromium', async (t) => {
  const chromium = requireTool(t, 'chromium');
  if (!chromium) return;
  const s = await startCli(['serve', '--port', '0', '--loops', '2'], READY);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeloop-chromium-'));
  const peer = new WebSocket(`ws://127.0.0.1:${s.match[2]}/pubsub/demo`, { perMessageDeflate: false });
  try {
    await within(5000, new Promise((resolve, reject) => peer.once('open', resolve).once('error', reject)), 'peer open');
    const heard: string[] = [];
    peer.on('message', (m: Buffer) => {
      heard.push(m.toString());
      if (m.toString() === 'bot joined') peer.send('hello browser');
    });
    // --virtual-time-budget lets the page's script and its socket run before the DOM is dumped. Virtual
    // time does not wait for WebSocket frames: on a loaded machine the socket can open, or the relayed
    // line arrive, after the budget is spent, so such a page is loaded again (at most six times): what
    // is checked is the chat, not the browser's speed.
    let r = { code: -1, stdout: '', stderr: '' };
    for (let attempt = 0; attempt < 6; attempt++) {
      heard.length = 0;
      r = await chromiumDom(chromium, profile, `http://127.0.0.1:${s.match[2]}/?nick=bot`, ['--virtual-time-budget=5000']);
      if (r.code !== 0 || r.stdout.includes('<li>hello browser</li>')) break;
    }
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.deepEqual(heard, ['bot joined'], 'the page announced itself to the other subscriber');
    assert.match(r.stdout, /<p id="status">connected as bot<\/p>/);
    assert.match(r.stdout, /<ol id="log"><li>hello browser<\/li><\/ol>/, 'the other subscriber\'s line is on the page');
  } finally {
    peer.terminate();
    fs.rmSync(profile, { recursive: true, force: true });
    s.child.kill('SIGTERM');
    await s.exit;
  }
});
