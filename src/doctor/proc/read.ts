/**
 * Reading /proc with errors that say what to do. Thread: any. Owns nothing.
 * A process can vanish between listing and reading it; callers that walk
 * /proc treat "gone" as normal and every other failure as a finding.
 */
import fs from 'node:fs';

export class ProcError extends Error {
  readonly code: string;
  readonly path: string;
  constructor(code: string, path: string, what: string) {
    super(`${what}: ${code}${hintFor(code)}`);
    this.name = 'ProcError';
    this.code = code;
    this.path = path;
  }
}

function hintFor(code: string): string {
  if (code === 'EACCES' || code === 'EPERM') {
    return ' (permission denied: run as root or as the user that owns the process)';
  }
  if (code === 'ENOENT' || code === 'ESRCH') return ' (no such process, or it exited)';
  return '';
}

function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'EIO';
}

/** True when the error means the process or fd is simply gone. */
export function isGone(err: unknown): boolean {
  const c = err instanceof ProcError ? err.code : codeOf(err);
  return c === 'ENOENT' || c === 'ESRCH';
}

export function readText(path: string): string {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch (err) {
    throw new ProcError(codeOf(err), path, `cannot read ${path}`);
  }
}

/** null when the file is gone or unreadable; for optional sources. */
export function tryReadText(path: string): string | null {
  try {
    return fs.readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

export function readDir(path: string): string[] {
  try {
    return fs.readdirSync(path);
  } catch (err) {
    throw new ProcError(codeOf(err), path, `cannot list ${path}`);
  }
}

export function readLink(path: string): string | null {
  try {
    return fs.readlinkSync(path);
  } catch {
    return null;
  }
}
