/**
 * Loads a handler module in the current loop thread. Thread: any loop's.
 * Owns nothing.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServerContext, ServerHandlers, SetupFn } from './ServerLoop.js';

export function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m;
  return pathToFileURL(path.resolve(m)).href;
}

/**
 * An error from a user's module, said with the module's address: a bare
 * "Unexpected end of input" from a loop thread does not tell which file to fix.
 * The original error stays as `cause` and its `code` is kept.
 */
function moduleError(href: string, what: string, err: unknown): Error {
  const e = err as { name?: string; message?: string; code?: string };
  const text = err instanceof Error ? `${e.name ?? 'Error'}: ${e.message ?? ''}` : String(err);
  const out = new Error(`handler module ${href} ${what}: ${text}`, { cause: err });
  if (typeof e?.code === 'string') Object.assign(out, { code: e.code });
  return out;
}

/** The module's `default` export, or its `setup` export, must be the setup function. */
export async function loadSetup(href: string): Promise<SetupFn> {
  let mod: { default?: unknown; setup?: unknown };
  try {
    mod = (await import(href)) as { default?: unknown; setup?: unknown };
  } catch (err) {
    throw moduleError(href, 'could not be loaded', err);
  }
  const fn = typeof mod.setup === 'function' ? mod.setup : mod.default;
  if (typeof fn !== 'function') {
    throw new TypeError(`handler module ${href} must export a setup function (export default function setup(ctx) { return { onMessage(...) {...} } })`);
  }
  return fn as SetupFn;
}

/** Loads the module and runs its setup for one loop; every failure names the module and the loop. */
export async function setupFromModule(href: string, ctx: ServerContext): Promise<ServerHandlers> {
  const setup = await loadSetup(href);
  try {
    return await setup(ctx);
  } catch (err) {
    throw moduleError(href, `setup() failed in loop ${ctx.index}`, err);
  }
}
