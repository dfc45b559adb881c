/**
 * What every `ipsec-es` verb shares: its help text, its flags (node:util `parseArgs`, strict),
 * the common flags (`--help`, `--json`, `--debug`), the exit codes, and one error type whose
 * message is the one line a person sees.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Exit codes, the same for every verb (documented in `ipsec-es --help`).
 *
 * @example
 * if (!reply.ok) throw new CliError(reply.error, EXIT.refused);
 */
export const EXIT = {
  ok: 0,
  /** The request reached its target and was refused or failed (unknown SA, nothing to rekey). */
  refused: 1,
  /** Bad arguments or configuration: unknown flag, missing value, bad policy file. */
  usage: 2,
  /** No running gateway answers on the control socket. */
  unreachable: 3,
  /** The event store or the key store cannot be opened (missing, locked, wrong KEK). */
  store: 4,
} as const;

/** An error that ends a command with a one-line message and an exit code (no stack unless --debug). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.refused,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where a command writes: stdout lines, stderr lines, and whether stderr is a terminal. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  stderrIsTty: boolean;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags every verb takes. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const satisfies Options;

/** The flags of the verbs that talk to a running gateway. */
export const CONTROL_OPTIONS = {
  store: { type: 'string' },
  'state-dir': { type: 'string' },
  control: { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies Options;

export const CONTROL_HELP = `  --store <store>     the gateway's --store (its control socket is <state>/control.sock: the
                      store directory, or --state-dir / its default for a URL store)
  --state-dir <dir>   the gateway's --state-dir, when it was given one
  --control <path>    the control socket itself (default $IPSEC_ES_CONTROL)
  --timeout <ms>      how long to wait for the gateway's answer (default 5000)`;

export const COMMON_HELP = `  --json              machine-readable output (one JSON document on stdout)
  --debug             stack traces on errors
  -h, --help          this help`;

export type Values = Record<string, string | boolean | string[] | undefined>;

/** One verb of the `ipsec-es` command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  options: Options;
  /** Positional arguments allowed (their names, for messages); none by default. */
  positionals?: { min: number; max: number; names: string };
  run(args: { values: Values; positionals: string[] }, io: Io): Promise<number>;
}

/**
 * Parses a verb's arguments strictly; an unknown flag or a missing value is a `CliError` (exit 2)
 * that names it and points at `--help`.
 *
 * @example
 * const { values, positionals } = parseCommand(command, ['--json']);
 */
export function parseCommand(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...command.options }, strict: true, allowPositionals: command.positionals !== undefined });
  } catch (e) {
    throw new CliError(`${(e as Error).message.split('\n')[0]!.split('. To specify')[0]} (see ipsec-es ${command.name} --help)`, EXIT.usage);
  }
  const values = parsed.values as Values;
  if (!values.help && command.positionals) {
    const { min, max, names } = command.positionals;
    if (parsed.positionals.length < min) throw new CliError(`missing ${names} (see ipsec-es ${command.name} --help)`, EXIT.usage);
    if (parsed.positionals.length > max) throw new CliError(`unexpected argument '${parsed.positionals[max]}' (see ipsec-es ${command.name} --help)`, EXIT.usage);
  }
  return { values, positionals: parsed.positionals };
}

/**
 * A flag's value as an integer in a range, or a `CliError` (exit 2) naming the flag.
 *
 * @example
 * const timeoutMs = intFlag(values, 'timeout', 5000, 1, 600_000);
 */
export function intFlag(values: Values, name: string, fallback: number, min: number, max: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min || n > max) throw new CliError(`--${name} must be an integer in ${min}..${max}, got ${String(raw)}`, EXIT.usage);
  return n;
}

/** JSON with bigints as strings (positions). */
export const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2);

/**
 * Left-aligned columns for a person to read.
 *
 * @example
 * io.out(table(['id', 'status'], [['sa-in', 'mature']]));
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
