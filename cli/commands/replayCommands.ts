/**
 * `replay` and `timeline`: the log read back. `replay` folds every fact up to a point (a global
 * position or a time) into the state the gateway had then (engine/projections `applyFact`, the
 * same fold a restart and the projections use); `timeline` tells one SA's life, each change with
 * its reason ("why did this SA die?").
 */
import { applyFact, emptyGatewayState, type GatewayState, type LoggedFact } from '../../engine/projections/replay.js';
import { saTimeline } from '../../engine/projections/timeline.js';
import type { SaState } from '../../engine/aggregates/sa.js';
import { openLog, type LogSource } from '../logReader.js';
import { progressBar } from '../progress.js';
import { STORE_ARGUMENT_HELP, STORE_POSITIONAL, redactUrl } from '../storeSpec.js';
import { suiteName } from '../gatewayViews.js';
import { COMMON_HELP, CliError, EXIT, table, toJson, type Command, type Io, type Values } from './command.js';

const PROGRESS_HELP = '  --progress          a progress bar on stderr even when it is not a terminal';

/** `--until`: a global position (digits) or an ISO 8601 time. */
export function parseUntil(raw: unknown): { position: bigint } | { time: number } | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw);
  if (/^\d+$/.test(text)) return { position: BigInt(text) };
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliError(`--until must be a log position (digits) or an ISO 8601 time, got ${text}`, EXIT.usage);
  return { time: t };
}

async function withLog<T>(spec: string, f: (log: LogSource) => Promise<T>): Promise<T> {
  const log = await openLog(spec);
  try {
    return await f(log);
  } finally {
    await log.close();
  }
}

const bar = (values: Values, io: Io, label: string) => progressBar({ write: (s) => io.err(s), tty: io.stderrIsTty, forced: values.progress === true, label });

/**
 * The gateway's state at `until`, from the log.
 *
 * @example
 * const then = await replayLog(log, { position: 120n });
 */
export async function replayLog(log: LogSource, until: ReturnType<typeof parseUntil>, onProgress?: (done: number, total: number | undefined) => void): Promise<GatewayState> {
  const state = emptyGatewayState();
  for await (const f of log.facts({ ...(until && 'position' in until ? { until: until.position } : {}), ...(onProgress ? { onProgress } : {}) })) {
    if (until && 'time' in until && Date.parse(f.fact.meta.at) > until.time) break;
    applyFact(state, f);
  }
  return state;
}

const saLine = (id: string, s: SaState) => {
  const p = s.params;
  const note = s.deleted ? `deleted: ${s.deleted.reason}` : s.replacedBy ? `replaced by ${s.replacedBy.newSaId}` : s.offload ? `offloaded to ${s.offload.nic}` : s.offloadRejected ? `software (${s.offloadRejected.reason})` : '';
  return [id, s.status, p?.direction ?? '-', p ? `0x${p.spi.toString(16).padStart(8, '0')}` : '-', p ? suiteName(p.encr, p.encrKeyBits, p.integ) : '-', p?.policyId ?? '-', String(s.usage.packets), String(s.usage.bytes), note];
};

/** The JSON shape of a replayed state (maps as objects, the position as a string). */
export const stateJson = (s: GatewayState) => ({ position: s.position.toString(), ...(s.at ? { at: s.at } : {}), sas: Object.fromEntries(s.sas), policies: Object.fromEntries(s.policies), ikeSas: Object.fromEntries(s.ikeSas), acquires: Object.fromEntries(s.acquires) });

export const replayCommand: Command = {
  name: 'replay',
  summary: 'rebuild the full state from a log, as it was at a position or time',
  help: `ipsec-es replay <store> [--until <position|time>] [--sa <id>] [--json]

Folds the log into the state the gateway had at that point: every SA (status, parameters,
usage at the last checkpoint, why it died), policy, IKE SA and acquire. Runs no effects, needs
no keys, and can read the log of a running gateway.

${STORE_ARGUMENT_HELP}

Options:
  --until <p|time>    stop after global position p, or at an ISO 8601 time (inclusive);
                      default: the end of the log
  --sa <id>           print this SA only
${PROGRESS_HELP}
${COMMON_HELP}

Exit codes: 0 done, 1 no such SA, 2 bad arguments, 4 the store cannot be read.`,
  options: { until: { type: 'string' }, sa: { type: 'string' }, progress: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: STORE_POSITIONAL },
  async run({ values, positionals }, io) {
    const until = parseUntil(values.until);
    const progress = bar(values, io, 'replay');
    const state = await withLog(positionals[0]!, (log) => replayLog(log, until, (d, t) => progress.update(d, t)));
    progress.done(`position ${state.position}, ${state.sas.size} SAs`);
    if (values.sa !== undefined) {
      const sa = state.sas.get(String(values.sa));
      if (!sa) throw new CliError(`no SA ${String(values.sa)} in the log up to position ${state.position}`, EXIT.refused);
      io.out(values.json ? toJson({ position: state.position, at: state.at, id: values.sa, sa }) : `${table(['id', 'status', 'dir', 'spi', 'suite', 'policy', 'packets', 'bytes', 'note'], [saLine(String(values.sa), sa)])}\n${toJson(sa)}`);
      return EXIT.ok;
    }
    if (values.json) {
      io.out(toJson(stateJson(state)));
      return EXIT.ok;
    }
    const lines = [`state at position ${state.position}${state.at ? ` (${state.at})` : ''}: ${state.sas.size} SAs, ${state.policies.size} policies, ${state.ikeSas.size} IKE SAs, ${state.acquires.size} acquires`];
    if (state.sas.size) lines.push('', table(['sa', 'status', 'dir', 'spi', 'suite', 'policy', 'packets', 'bytes', 'note'], [...state.sas].map(([id, s]) => saLine(id, s))));
    if (state.ikeSas.size) lines.push('', table(['ike sa', 'status'], [...state.ikeSas].map(([id, s]) => [id, String((s as { status?: unknown }).status ?? '')])));
    if (state.acquires.size) lines.push('', table(['acquire', 'status'], [...state.acquires].map(([id, s]) => [id, String((s as { status?: unknown }).status ?? '')])));
    io.out(lines.join('\n'));
    return EXIT.ok;
  },
};

export const timelineCommand: Command = {
  name: 'timeline',
  summary: 'one SA\'s life from the log, each change with its reason',
  help: `ipsec-es timeline <store> --sa <id> [--all] [--json]

Prints every fact of the SA in order, in words: installed, offloaded, soft lifetime, rekey,
replaced, deleted and why ("why did this SA die?"). Records of other streams are skipped
without being decoded, so it is fast on long logs; a progress bar shows on a terminal.

${STORE_ARGUMENT_HELP}

Options:
  --sa <id>           the SA (ipsec-es replay <store> lists them)
  --all               include the usage checkpoints (hidden by default)
${PROGRESS_HELP}
${COMMON_HELP}

Exit codes: 0 done, 1 no such SA in the log, 2 bad arguments, 4 the store cannot be read.`,
  options: { sa: { type: 'string' }, all: { type: 'boolean' }, progress: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: STORE_POSITIONAL },
  async run({ values, positionals }, io) {
    if (!values.sa) throw new CliError('timeline: --sa <id> is required (ipsec-es replay <store> lists the SAs)', EXIT.usage);
    const id = String(values.sa);
    const progress = bar(values, io, 'timeline');
    const facts: LoggedFact[] = [];
    await withLog(positionals[0]!, async (log) => {
      for await (const f of log.facts({ streams: new Set([`sa-${id}`]), onProgress: (d, t) => progress.update(d, t) })) facts.push(f);
    });
    progress.done(`${facts.length} facts of sa-${id}`);
    if (facts.length === 0) throw new CliError(`no facts of SA ${id} in ${redactUrl(positionals[0]!)} (ipsec-es replay ${redactUrl(positionals[0]!)} lists the SAs)`, EXIT.refused);
    const entries = saTimeline(facts, id);
    const state = facts.reduce((s, f) => applyFact(s, f), emptyGatewayState()).sas.get(id)!;
    const verdict = state.deleted ? `died ${state.deleted.at}: ${entries.at(-1)?.summary.replace(/^deleted: /, '') ?? state.deleted.reason}` : `${state.status} at the end of the log`;
    if (values.json) {
      io.out(toJson({ sa: id, status: state.status, ...(state.deleted ? { deleted: state.deleted } : {}), entries }));
      return EXIT.ok;
    }
    const shown = values.all ? entries : entries.filter((e) => e.type !== 'SaUsageCheckpointed');
    const hidden = entries.length - shown.length;
    io.out([`SA ${id}: ${verdict}`, ...shown.map((e) => `  ${e.at}  #${e.position}  ${e.summary}`), ...(hidden ? [`  (${hidden} usage checkpoints hidden; --all shows them)`] : [])].join('\n'));
    return EXIT.ok;
  },
};
