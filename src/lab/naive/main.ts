/**
 * Entry of a naive-server child process: `node main.js '<NaiveConfig JSON>'`.
 * Prints one JSON line {type:'ready', port, pid, backlog} when every worker
 * waits in epoll_wait, stops on "stop" (or when stdin closes, i.e. the lab
 * died) and prints {type:'report', ...NaiveReport} before exiting.
 * Thread: main of its own process, so that `edgeloop doctor --pid` sees the
 * server alone, not the lab, the bench or itself.
 */
import readline from 'node:readline';
import type { NaiveConfig } from './config.js';
import { NaiveServer } from './server.js';

const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as NaiveConfig;
  const server = await NaiveServer.start(config);
  out({ type: 'ready', port: server.port, pid: process.pid, backlog: server.backlog });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const report = await server.stop();
    out({ type: 'report', ...report });
    process.exit(0);
  };
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'stop') void stop();
  });
  rl.on('close', () => void stop());
}

main().catch((err: unknown) => {
  out({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
