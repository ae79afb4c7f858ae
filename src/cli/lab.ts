/**
 * `edgeloop lab [SCENARIO...]`: runs the field reports' epoll experiments on this
 * kernel and prints their tables with real numbers. Thread: main. Owns the
 * progress output for the length of the run.
 * Exit status: 0 all scenarios ran and cleaned up; 1 one could not run or
 * left something behind; 2 bad arguments.
 */
import fs from 'node:fs';
import { parseLabArgs, USAGE } from '../lab/options.js';
import { usageError } from './args.js';
import { runLab } from '../lab/run.js';
import { labText } from '../lab/report-text.js';
import { labHtml } from '../lab/report-html.js';
import { rowName } from '../lab/format.js';
import { killAll } from '../lab/children.js';

export async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseLabArgs(argv);
  } catch (err) {
    return usageError('lab', err);
  }
  if (cmd.help) {
    console.log(USAGE);
    return 0;
  }
  // A signal would end this process without 'exit' handlers: the servers it started must not outlive it.
  const interrupted = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nedgeloop lab: ${sig}: stopping the servers and clients it started\n`);
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const run = await runLab(cmd.options, (e) => {
    const at = `[${e.index + 1}/${e.total}]`;
    if (e.type === 'start') process.stderr.write(`${at} ${rowName(e.scenario)}: ${e.load} ...\n`);
    else process.stderr.write(`${at} ${e.result.verdict} (${(e.result.elapsedMs / 1000).toFixed(1)} s)\n`);
  });
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
  for (const e of run.errors) process.stderr.write(`edgeloop lab: ${e.message}\n`);
  if (cmd.json) {
    console.log(JSON.stringify(run));
  } else {
    console.log(labText(run));
  }
  if (cmd.html) {
    try {
      fs.writeFileSync(cmd.html, labHtml(run));
      if (!cmd.json) console.log(`report written to ${cmd.html}`);
    } catch (err) {
      console.error(`edgeloop lab: could not write ${cmd.html}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return 1;
    }
  }
  const dirty = run.scenarios.filter((r) => !r.cleanup.ok);
  for (const r of dirty) process.stderr.write(`edgeloop lab: ${rowName(r)} left something behind: ${r.cleanup.detail}\n`);
  return run.errors.length > 0 || dirty.length > 0 ? 1 : 0;
}
