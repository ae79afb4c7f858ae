/**
 * Child processes of the lab: the server under test, `edgeloop bench`,
 * `edgeloop doctor`. Thread: main. Owns the set of children it started, and
 * kills whatever is still running, by pid, if the lab exits early.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();
let hooked = false;

/** Kills every child still running (by its pid), e.g. when the lab is interrupted. */
export function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
}

/** The edgeloop command line of this build: the lab runs its siblings, not whatever `edgeloop` is on PATH. */
export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** A child with its three pipes; killed if the lab exits first. */
export function start(script: string, args: string[]): ChildProcessWithoutNullStreams {
  hookExit();
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs an edgeloop subcommand to the end; kills it after timeoutMs. */
export function runCli(args: string[], timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = start(CLI, args);
    child.stdin.end();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
    });
  });
}

/** Resolves with what `match` returns for the first stdout line it accepts; rejects if match throws, the child exits or time runs out first. */
export function waitForLine<T>(child: ChildProcessWithoutNullStreams, match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let errText = '';
    const onErr = (d: Buffer) => {
      errText += d.toString();
    };
    const done = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onErr);
      child.off('exit', onExit);
    };
    const onData = (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let hit: T | undefined;
        try {
          hit = match(line);
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (hit !== undefined) {
          done();
          resolve(hit);
          return;
        }
      }
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`${what} exited (code ${code}) before it was ready${errText ? `: ${errText.trim()}` : ''}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what} was not ready within ${timeoutMs} ms${errText ? `: ${errText.trim()}` : ''}`));
    }, timeoutMs);
    child.stdout.on('data', onData);
    child.stderr.on('data', onErr);
    child.once('exit', onExit);
  });
}

/** Resolves when the child has exited; SIGKILLs it after timeoutMs. True when it exited on its own. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(false);
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
