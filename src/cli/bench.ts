/**
 * `edgeloop bench URL [options]`. Thread: main. Owns the SIGINT handler and
 * the progress line for the length of the run.
 * Exit status: 0 when the run completed and at least one request was
 * answered, whatever the status; 1 when none was (every connect refused, ...)
 * or the run could not start (an unresolvable host, ...); 2 for bad arguments.
 */
import fs from 'node:fs';
import { parseBenchArgs, USAGE } from '../bench/options.js';
import { usageError } from './args.js';
import { startBench } from '../bench/run.js';
import { Progress } from '../bench/progress.js';
import { humanReport } from '../bench/report-human.js';
import { htmlReport } from '../bench/report-html.js';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseBenchArgs(argv, { isTTY: process.stdout.isTTY === true });
  } catch (err) {
    return usageError('bench', err);
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const o = parsed.options;

  let running;
  try {
    running = await startBench(o);
  } catch (err) {
    console.error(`edgeloop bench: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

  const progress = o.progress
    ? new Progress(running.live, process.stdout, o.durationMs, o.requests)
    : undefined;
  progress?.start();
  let interrupts = 0;
  const onSigint = () => {
    // First Ctrl-C: stop issuing and report (with what was left unanswered). Second: give up.
    if (++interrupts > 1) process.exit(130);
    if (!o.json) process.stderr.write('\nstopping: waiting for in-flight requests (Ctrl-C again to quit)\n');
    running.stop();
  };
  process.on('SIGINT', onSigint);
  let result;
  try {
    result = await running.result;
  } finally {
    process.off('SIGINT', onSigint);
    progress?.stop();
  }

  if (o.json) console.log(JSON.stringify(result));
  else console.log(humanReport(result));
  if (o.html) {
    try {
      fs.writeFileSync(o.html, htmlReport(result));
      if (!o.json) console.log(`  report      ${o.html}`);
    } catch (err) {
      console.error(`edgeloop bench: could not write ${o.html}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return 1;
    }
  }
  // Like wrk: a run in which nothing answered measured nothing, and a script must see that.
  if (result.completed === 0) {
    console.error(`edgeloop bench: no request was answered (${result.requests} sent or attempted)`);
    return 1;
  }
  return 0;
}
