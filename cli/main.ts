#!/usr/bin/env node
/**
 * The `ipsec-es` command: `gateway` runs one; the swanctl-like verbs (`list-sas`, `list-pols`,
 * `stats`, `initiate`, `terminate`, `rekey`, `capture`) talk to a running one over its control
 * socket; `replay`, `timeline`, `inspect` and `export-wireshark` read a log. Errors are one line
 * on stderr and an exit code that means something (`ipsec-es --help`); `--debug` adds the stack.
 */
import { COMMANDS, topHelp } from './commands/index.js';
import { CliError, EXIT, parseCommand, type Io } from './commands/command.js';

const io: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
};

/** An error's exit code: ours say; store, key and configuration errors of the layers below map here. */
function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  const err = e as Error & { code?: string };
  if (err.code === 'config.invalid' || err.name === 'PolicyFileError' || err.name === 'KeyRefError') return EXIT.usage;
  if (typeof err.code === 'string' && (err.code.startsWith('store.') || err.code.startsWith('keys.'))) return EXIT.store;
  return EXIT.refused;
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const about = name === 'help' && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(about ? about.help : topHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new CliError(`unknown command '${name}'; the commands are: ${COMMANDS.map((c) => c.name).join(', ')} (ipsec-es --help)`, EXIT.usage);
    const args = parseCommand(command, rest);
    if (args.values.help) {
      io.out(command.help);
      return EXIT.ok;
    }
    return await command.run(args, io);
  } catch (e) {
    const err = e as Error;
    io.err(`ipsec-es${command ? ` ${command.name}` : ''}: ${err.message}\n`);
    if (debug && err.stack) io.err(`${err.stack}\n`);
    return exitCodeOf(e);
  }
}

// Exit once stdout is flushed: a pipe may still hold a large --json answer.
main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: unknown) => {
    process.stderr.write(`ipsec-es: ${(e as Error).message}\n`);
    process.exit(EXIT.refused);
  },
);
