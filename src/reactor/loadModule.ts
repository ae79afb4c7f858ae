/**
 * Loads a handler module in the current loop thread. Thread: any loop's.
 * Owns nothing.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SetupFn } from './ServerLoop.js';

export function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m;
  return pathToFileURL(path.resolve(m)).href;
}

/** The module's `default` export, or its `setup` export, must be the setup function. */
export async function loadSetup(href: string): Promise<SetupFn> {
  const mod = (await import(href)) as { default?: unknown; setup?: unknown };
  const fn = typeof mod.setup === 'function' ? mod.setup : mod.default;
  if (typeof fn !== 'function') {
    throw new TypeError(`handler module ${href} must export a setup function (export default function setup(ctx) { return { onMessage(...) {...} } })`);
  }
  return fn as SetupFn;
}
