/**
 * Every verb of the `ipsec-es` command, in the order `ipsec-es --help` lists them, and the
 * top-level help built from them (so the list cannot miss one).
 */
import type { Command } from './command.js';
import { capture, initiate, listPols, listSas, rekey, stats, terminate } from './controlVerbs.js';
import { exportWiresharkCommand } from './exportWireshark.js';
import { gatewayCommand } from './gatewayCommand.js';
import { inspectCommand } from './inspect.js';
import { replayCommand, timelineCommand } from './replayCommands.js';

export const COMMANDS: readonly Command[] = [gatewayCommand, listSas, listPols, stats, initiate, terminate, rekey, capture, replayCommand, timelineCommand, inspectCommand, exportWiresharkCommand];

export const EXIT_CODES_HELP = `Exit codes: 0 done; 1 refused or failed (unknown SA, nothing to rekey, keys gone); 2 bad
arguments or configuration; 3 no gateway answers on the control socket; 4 the event store or
key store cannot be opened (missing, locked, wrong KEK).`;

/** `ipsec-es --help`. */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `ipsec-es — an IPsec gateway whose every state change is an event

Usage: ipsec-es <command> [options]      ipsec-es <command> --help for its options

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

A running gateway is named by its --store (the control socket is <dir>/control.sock, or in
--state-dir for a postgres:// or kurrentdb:// store) or --control <socket>. replay, timeline,
inspect and export-wireshark read a log: a store directory (also while the gateway runs),
postgres://… or kurrentdb://….
Every command takes --json (where it prints data), --debug (stack traces) and --help.

${EXIT_CODES_HELP}`;
}
