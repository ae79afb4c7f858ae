#!/usr/bin/env node
/**
 * The `edgeloop` command: one entry, one module per subcommand.
 * Each subcommand module exports `main(argv): Promise<number>` (the exit code).
 */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  echo: { summary: 'TCP echo server on the reactor', load: () => load('echo') },
  serve: { summary: 'HTTP/1.1 demo server (/hello, /echo, /delay, /bytes, /stats)', load: () => load('serve') },
  bench: { summary: 'HTTP load generator that says what went wrong with every request', load: () => load('bench') },
  doctor: { summary: 'diagnose a running server (any language) from /proc and sock_diag', load: () => load('doctor') },
  lab: { summary: "reproduce the field reports' epoll experiments on this kernel", load: () => load('lab') },
};

type Command = { main(argv: string[]): Promise<number> };
// A computed specifier: each command module loads only when it is run.
const load = (name: string): Promise<Command> => import(`./${name}.js`) as Promise<Command>;

function usage(): string {
  const lines = ['usage: edgeloop <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push('', 'options:', '  -h, --help     this text', '  -v, --version  the version of edgeloop');
  lines.push('', 'Run `edgeloop <command> --help` for the options of one command.');
  return lines.join('\n');
}

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    // A script that forgot the command must not look like it succeeded.
    console.error(usage());
    return 2;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  const c = commands[cmd];
  if (!c) {
    console.error(`edgeloop: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  const mod = await c.load();
  return mod.main(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`edgeloop: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
