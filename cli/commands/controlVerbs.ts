/**
 * The swanctl-like verbs (`list-sas`, `list-pols`, `stats`, `terminate`, `rekey`, `initiate`,
 * `capture`): each one request to a running gateway's control socket (`cli/control.ts`), the
 * answer printed as a table or, with `--json`, as it came.
 */
import { resolve } from 'node:path';
import { join } from 'node:path';
import { parseStoreSpec, stateDirectory } from '../storeSpec.js';
import { ControlUnreachable, controlRequest } from '../control.js';
import { COMMON_HELP, CONTROL_HELP, CONTROL_OPTIONS, CliError, EXIT, intFlag, table, toJson, type Command, type Io, type Values } from './command.js';

/**
 * Asks the gateway named by `--control`, `--store` or `$IPSEC_ES_CONTROL`; a refusal is a
 * `CliError` (exit 1), silence or no socket one with exit 3.
 *
 * @example
 * const reply = await ask(values, { cmd: 'list-sas' });
 */
export async function ask(values: Values, request: { cmd: string; [arg: string]: unknown }): Promise<Record<string, unknown>> {
  const path = typeof values.control === 'string' ? values.control : typeof values.store === 'string' ? join(stateDirectory(parseStoreSpec(values.store), values), 'control.sock') : process.env.IPSEC_ES_CONTROL;
  if (!path) throw new CliError('which gateway? give --store <dir> (its store directory) or --control <socket>', EXIT.usage);
  const timeoutMs = intFlag(values, 'timeout', 5000, 1, 600_000);
  let reply: Record<string, unknown>;
  try {
    reply = await controlRequest(path, request, timeoutMs);
  } catch (e) {
    if (!(e instanceof ControlUnreachable)) throw e;
    const hint = e.reason === 'ENOENT' || e.reason === 'ECONNREFUSED' ? ': no gateway is running there (start one with ipsec-es gateway --store <dir>, or check --store/--control)' : e.reason === 'EACCES' ? ': permission denied (the socket is mode 0600: run as the gateway\'s user)' : ': the gateway does not answer (is it stuck? see its output)';
    throw new CliError(`${e.message}${hint}`, EXIT.unreachable);
  }
  if (reply.ok !== true) throw new CliError(String(reply.error ?? 'the gateway refused'), EXIT.refused);
  delete reply.ok;
  return reply;
}

const usage = (name: string, args: string, what: string, extra = '') => `ipsec-es ${name} ${args}

${what}

Options:
${extra}${CONTROL_HELP}
${COMMON_HELP}`;

const hex = (n: unknown) => (typeof n === 'number' ? `0x${n.toString(16).padStart(8, '0')}` : '-');
const print = (io: Io, values: Values, reply: unknown, human: () => string) => io.out(values.json ? toJson(reply) : human());

export interface SaRow {
  id: string;
  status: string;
  direction?: string;
  spi?: number;
  mode?: string;
  tunnel?: { src: string; dst: string };
  suite?: string;
  policyId?: string;
  pairedSaId?: string;
  usage: { packets: number; bytes: number };
  offload?: string;
  deleted?: string;
}

export const listSas: Command = {
  name: 'list-sas',
  summary: 'list the SAs of a running gateway (status, SPI, suite, usage)',
  help: usage('list-sas', '[--store <dir> | --control <socket>] [--json]', 'Lists the gateway\'s SAs as its actors hold them: larval, mature, rekeying, dying and dead (until restart),\nwith live packet and byte counts, then its IKE SAs (when the policy file has IKE connections).', '  --live              only SAs that are not dead\n'),
  options: { ...CONTROL_OPTIONS, live: { type: 'boolean' } },
  async run({ values }, io) {
    const reply = await ask(values, { cmd: 'list-sas' });
    let sas = reply.sas as SaRow[];
    if (values.live) sas = sas.filter((s) => s.status !== 'dead');
    const ikeSas = (reply.ikeSas ?? []) as Array<{ ikeSaId: string; peer: string; role: string; established: boolean; spiI: string; spiR: string; remote: string }>;
    print(io, values, { ...reply, sas }, () => [
      sas.length === 0
        ? 'no SAs'
        : table(['id', 'status', 'dir', 'spi', 'mode', 'tunnel', 'suite', 'policy', 'packets', 'bytes', 'note'], sas.map((s) => [s.id, s.status, s.direction ?? '-', hex(s.spi), s.mode ?? '-', s.tunnel ? `${s.tunnel.src} → ${s.tunnel.dst}` : '-', s.suite ?? '-', s.policyId ?? '-', String(s.usage.packets), String(s.usage.bytes), s.deleted ? `deleted: ${s.deleted}` : s.offload ?? ''])),
      ...(ikeSas.length ? ['', table(['ike sa', 'connection', 'role', 'state', 'spis (i/r)', 'remote'], ikeSas.map((i) => [i.ikeSaId, i.peer, i.role, i.established ? 'established' : 'connecting', `${i.spiI}/${i.spiR}`, i.remote]))] : []),
    ].join('\n'));
    return EXIT.ok;
  },
};

export const listPols: Command = {
  name: 'list-pols',
  summary: 'list the security policies (SPD) of a running gateway',
  help: usage('list-pols', '[--store <dir> | --control <socket>] [--json]', 'Lists the SPD entries in priority order: direction, action, selectors and, for PROTECT, the SA template.'),
  options: CONTROL_OPTIONS,
  async run({ values }, io) {
    const reply = await ask(values, { cmd: 'list-pols' });
    const pols = reply.policies as Array<{ id: string; direction: string; action: string; priority: number; selectors: string[]; protect?: string }>;
    print(io, values, reply, () => (pols.length === 0 ? 'no policies' : table(['id', 'dir', 'action', 'prio', 'selectors', 'protect'], pols.map((p) => [p.id, p.direction, p.action, String(p.priority), p.selectors.join('; '), p.protect ?? '']))));
    return EXIT.ok;
  },
};

export const stats: Command = {
  name: 'stats',
  summary: 'counters of a running gateway: drops by reason, globally and per SA',
  help: usage('stats', '[--sa <id>] [--store <dir> | --control <socket>] [--json]', 'Prints the drop counters by reason (globally and per SA; only reasons that counted), the\nSAs\' usage and the TUN, UDP and wire counters.', '  --sa <id>           one SA only\n'),
  options: { ...CONTROL_OPTIONS, sa: { type: 'string' } },
  async run({ values }, io) {
    const reply = await ask(values, { cmd: 'stats', ...(values.sa ? { saId: values.sa } : {}) });
    const perSa = reply.perSa as Array<{ id: string; status: string; usage: { packets: number; bytes: number }; drops: Record<string, number> }>;
    const fmt = (d: Record<string, number>) => Object.entries(d).map(([k, n]) => `${k}=${n}`).join(' ') || '-';
    print(io, values, reply, () => [
      ...(values.sa ? [] : [`drops (all): ${fmt(reply.drops as Record<string, number>)}`]),
      table(['sa', 'status', 'packets', 'bytes', 'drops'], perSa.map((s) => [s.id, s.status, String(s.usage.packets), String(s.usage.bytes), fmt(s.drops)])),
      ...(values.sa ? [] : ['', ...Object.entries(reply.interfaces as Record<string, Record<string, number>>).map(([k, c]) => `${k}: ${fmt(Object.fromEntries(Object.entries(c).filter(([, n]) => typeof n === 'number')))}`)]),
    ].join('\n'));
    return EXIT.ok;
  },
};

export const terminate: Command = {
  name: 'terminate',
  summary: 'delete an SA and the SA of the other direction paired with it, or an IKE SA',
  help: usage('terminate', '--sa <id> [--only] | --ike <id> [--store <dir> | --control <socket>] [--json]', 'Deletes the SA (reason operator, a fact in the log before it leaves the data path) and its\npair, as swanctl --terminate --child does; a negotiated pair is deleted at the peer too\n(INFORMATIONAL DELETE, RFC 7296 §1.4.1). --ike deletes an IKE SA with its CHILD SAs, as\nswanctl --terminate --ike does. Exit 1 if the SA is unknown or already dead.', '  --sa <id>           the SA to delete\n  --only              this SA only, not its pair\n  --ike <id>          the IKE SA to delete (list-sas shows the ids)\n'),
  options: { ...CONTROL_OPTIONS, sa: { type: 'string' }, only: { type: 'boolean' }, ike: { type: 'string' } },
  async run({ values }, io) {
    if (!values.sa === !values.ike) throw new CliError('terminate: give --sa <id> or --ike <id> (ipsec-es list-sas shows the ids)', EXIT.usage);
    const reply = await ask(values, values.ike ? { cmd: 'terminate', ikeSaId: values.ike } : { cmd: 'terminate', saId: values.sa, pair: !values.only });
    print(io, values, reply, () => `deleted ${(reply.deleted as string[]).join(', ')}`);
    return EXIT.ok;
  },
};

export const rekey: Command = {
  name: 'rekey',
  summary: 'replace an SA make-before-break (IKE: CREATE_CHILD_SA; static keys: from the policy file)',
  help: usage('rekey', '--sa <id> [--store <dir> | --control <socket>] [--json]', `Replaces the SA make-before-break. An SA negotiated by IKE is rekeyed with CREATE_CHILD_SA
(RFC 7296 §2.8); the answer comes once the new pair carries traffic. With static keys the new
keys come from the policy file: add the next <sad-entry> pair under the same reqid, then run
rekey (as SIGHUP reload does; docs/operations.md). Exit 1 when the rekey fails or the file
holds no new generation for the SA.`, '  --sa <id>           the SA to replace (either direction of the pair)\n'),
  options: { ...CONTROL_OPTIONS, sa: { type: 'string' } },
  async run({ values }, io) {
    if (!values.sa) throw new CliError('rekey: --sa <id> is required (ipsec-es list-sas shows the ids)', EXIT.usage);
    const reply = await ask(values, { cmd: 'rekey', saId: values.sa });
    print(io, values, reply, () => `rekeyed ${values.sa}: ${(reply.replaced as string[]).join(', ')} replaced by ${(reply.by as string[]).join(', ')}`);
    return EXIT.ok;
  },
};

export const initiate: Command = {
  name: 'initiate',
  summary: 'bring up the SAs of a policy now (IKEv2), as its first packet would',
  help: usage('initiate', '--policy <id> [--store <dir> | --control <socket>] [--json]', `Negotiates the SA pair of an outbound PROTECT policy now, as its first packet would (RFC 4301
§5.1 ACQUIRE): IKE_SA_INIT and IKE_AUTH with the policy's <conn-entry> peer, or CREATE_CHILD_SA
under its live IKE SA. The answer comes once the pair is installed. Exit 1 when no IKE
connection serves the policy (its SAs are static) or the negotiation fails.`, '  --policy <id>       the PROTECT policy (ipsec-es list-pols shows the ids)\n'),
  options: { ...CONTROL_OPTIONS, policy: { type: 'string' } },
  async run({ values }, io) {
    if (!values.policy) throw new CliError('initiate: --policy <id> is required (ipsec-es list-pols shows the ids)', EXIT.usage);
    const reply = await ask(values, { cmd: 'initiate', policyId: values.policy });
    print(io, values, reply, () => `policy ${values.policy}: SAs ${String(reply.outboundSaId)} (outbound) and ${String(reply.inboundSaId)} (inbound) installed by IKE connection ${String(reply.connection)}`);
    return EXIT.ok;
  },
};

export const capture: Command = {
  name: 'capture',
  summary: 'write a pcapng of what a running gateway sends and receives on the wire',
  help: usage('capture', '--out <file.pcapng> [--seconds <n>] [--count <n>] [--store <dir> | --control <socket>]', `Records the gateway's UDP datagrams (ESP in UDP, IKE, keepalives) in both directions as IPv4/IPv6
packets in a pcapng file, for Wireshark or tshark (decrypt them with export-wireshark). The
gateway writes the file, so it must be a path the gateway can write.`, '  --out <file>        the pcapng file (overwritten)\n  --seconds <n>       stop after n seconds (default 10)\n  --count <n>         stop after n packets\n'),
  options: { ...CONTROL_OPTIONS, out: { type: 'string' }, seconds: { type: 'string' }, count: { type: 'string' } },
  async run({ values }, io) {
    if (!values.out) throw new CliError('capture: --out <file.pcapng> is required', EXIT.usage);
    const seconds = intFlag(values, 'seconds', 10, 1, 86_400);
    const count = values.count === undefined ? undefined : intFlag(values, 'count', 0, 1, 1e9);
    await ask(values, { cmd: 'capture.start', path: resolve(String(values.out)), ...(count ? { maxPackets: count } : {}) });
    const until = Date.now() + seconds * 1000;
    let interrupted = false;
    const onInterrupt = () => (interrupted = true);
    process.on('SIGINT', onInterrupt); // Ctrl-C ends the capture, not the file
    try {
      while (Date.now() < until && !interrupted) {
        const s = await ask(values, { cmd: 'capture.status' });
        if (count !== undefined && (s.packets as number) >= count) break;
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(200, until - Date.now()))));
      }
    } finally {
      process.off('SIGINT', onInterrupt);
    }
    const reply = await ask(values, { cmd: 'capture.stop' });
    print(io, values, reply, () => `${reply.packets} packets written to ${reply.path}`);
    return EXIT.ok;
  },
};
