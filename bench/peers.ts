/**
 * The benchmark-only peers (Bun, @hono/node-server, ws): installed on first
 * use into bench/peers/, never into edgeloop's own dependencies, so a user of
 * the package never downloads a second runtime.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/peers in the checkout (the compiled file lives in dist/bench). */
export const peersDir = fileURLToPath(new URL('../../bench/peers/', import.meta.url));

let installed: boolean | undefined;

/** Installs bench/peers once; false (with a message) when npm cannot. */
export function ensurePeers(): boolean {
  if (installed !== undefined) return installed;
  if (!fs.existsSync(path.join(peersDir, 'node_modules', '.package-lock.json'))) {
    console.error('bench: installing the benchmark peers into bench/peers (once) ...');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', peersDir], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) {
      console.error('bench: could not install bench/peers; peers that need it are skipped');
      return (installed = false);
    }
  }
  return (installed = true);
}

/** The Bun executable from @oven/bun-linux-x64, or null when it is not installed or cannot run here. */
export function bunPath(): string | null {
  if (!ensurePeers()) return null;
  const bin = path.join(peersDir, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun');
  if (!fs.existsSync(bin)) return null;
  return spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0 ? bin : null;
}

/** Resolves a module installed in bench/peers (for `import()` in a peer server script). */
export function peerModule(name: string): string {
  return path.join(peersDir, 'node_modules', name);
}
