/**
 * The acquire aggregate (stream `acquire-<id>`): one negotiation effort started by an outbound
 * packet that matched a PROTECT policy with no SA (RFC 4301 §5.1 step 3a "PROTECT ... if no SA
 * exists, invoke the key management"; RFC 2367 §3.1.6 SADB_ACQUIRE). Pure: time and ids arrive in
 * the command context; the machine in machines/acquire drives it.
 *
 * Lifecycle: none → pending (AcquireRaised) → satisfied (AcquireSatisfied), or
 * pending → backoff (AcquireFailed / AcquireTimedOut) → pending again (AcquireRaised, attempt + 1,
 * once `retryAt` has passed) ... → abandoned (AcquireAbandoned) when nobody needs it any more.
 */
import { IpsecError, requireRange } from '../errors.js';
import { fact, type CommandContext } from '../events/fact.js';
import type { AcquireFact } from '../events/otherFacts.js';

/**
 * The selector fields of the packet that raised an acquire, as recorded in AcquireRaised
 * (addresses as text; -1 for OPAQUE).
 *
 * @example
 * const packet: AcquirePacketFields = { localAddress: '10.0.0.1', remoteAddress: '10.9.0.1', protocol: 6, localPort: 40000, remotePort: 443 };
 */
export type AcquirePacketFields = Extract<AcquireFact, { type: 'AcquireRaised' }>['data']['packet'];

/**
 * Where an acquire is: none → pending ⇄ backoff → satisfied | abandoned.
 *
 * @example
 * if (state.status === 'pending') return; // one ACQUIRE at a time
 */
export type AcquireStatus = 'none' | 'pending' | 'backoff' | 'satisfied' | 'abandoned';

/**
 * The folded acquire. `version`: facts folded so far (the stream version).
 *
 * @example
 * const { status, attempt, retryAt } = facts.reduce(evolveAcquire, initialAcquireState);
 */
export interface AcquireState {
  status: AcquireStatus;
  version: number;
  policyId?: string;
  selectorIndex?: number;
  /** A readable form of the triggering flow, for timelines. */
  selector?: string;
  packet?: AcquirePacketFields;
  /** Raises so far (0 before the first). */
  attempt: number;
  firstRaisedAt?: string;
  /** When the current (or last) attempt was raised. */
  raisedAt?: string;
  /** In backoff: the earliest time a new packet may raise the acquire again. */
  retryAt?: string;
  /** The last failure; `reason` is 'timeout' after AcquireTimedOut. */
  lastFailure?: { reason: string; at: string };
  saIds?: string[];
  satisfiedAt?: string;
  abandoned?: { reason: 'idle' | 'cancelled'; at: string };
  lastAt?: string;
}

/** @example const state = facts.reduce(evolveAcquire, initialAcquireState); */
export const initialAcquireState: AcquireState = { status: 'none', version: 0, attempt: 0 };

/**
 * What the acquire machine asks of the aggregate.
 *
 * @example
 * decideAcquire({ type: 'TimeOutAcquire', retryInMs: 2000 }, state, ctx);
 */
export type AcquireCommand =
  | { type: 'RaiseAcquire'; policyId: string; selectorIndex: number; selector: string; packet: AcquirePacketFields }
  | { type: 'SatisfyAcquire'; saIds: string[] }
  | { type: 'FailAcquire'; reason: string; retryInMs: number }
  | { type: 'TimeOutAcquire'; retryInMs: number }
  | { type: 'AbandonAcquire'; reason: 'idle' | 'cancelled' };

/**
 * A command the acquire's current state does not allow; nothing was decided.
 *
 * @example
 * try { decideAcquire(cmd, state, ctx) } catch (e) { if (e instanceof AcquireRuleViolation) log(e.rule) }
 */
export class AcquireRuleViolation extends IpsecError {
  constructor(
    readonly command: AcquireCommand['type'],
    readonly status: AcquireStatus,
    readonly rule: string,
  ) {
    super('acquire.ruleViolation', `${command} is not allowed while the acquire is ${status}: ${rule}`);
    this.name = 'AcquireRuleViolation';
  }
}

/**
 * Exponential backoff between attempts: `initialMs` × 2^(attempt − 1), at most `maxMs`.
 *
 * @example
 * const backoff: AcquireBackoff = { initialMs: 500, maxMs: 30_000 };
 */
export interface AcquireBackoff {
  initialMs: number;
  maxMs: number;
}

/**
 * 1 s, 2 s, 4 s, ... at most 60 s.
 *
 * @example
 * createAcquireMachine(deps, { backoff: DEFAULT_ACQUIRE_BACKOFF });
 */
export const DEFAULT_ACQUIRE_BACKOFF: AcquireBackoff = { initialMs: 1_000, maxMs: 60_000 };

/**
 * The wait after attempt `attempt` (1-based) failed.
 *
 * @example
 * acquireBackoffMs(3, DEFAULT_ACQUIRE_BACKOFF) // 4000
 */
export function acquireBackoffMs(attempt: number, backoff: AcquireBackoff = DEFAULT_ACQUIRE_BACKOFF): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
}

const isOver = (s: AcquireState) => s.status === 'satisfied' || s.status === 'abandoned';

/**
 * Decides what a command means for an acquire: the facts to record, or an
 * `AcquireRuleViolation`. Pure. A raise while the acquire is pending records nothing: that is
 * the de-duplication that turns a packet burst into one ACQUIRE (RFC 2367 §3.1.6: one
 * SADB_ACQUIRE per needed SA). Satisfying or abandoning twice records nothing either.
 *
 * @example
 * const facts = decideAcquire({ type: 'FailAcquire', reason: 'NO_PROPOSAL_CHOSEN', retryInMs: 1000 }, state, ctx);
 */
export function decideAcquire(command: AcquireCommand, state: AcquireState, ctx: CommandContext): AcquireFact[] {
  const violation = (rule: string) => new AcquireRuleViolation(command.type, state.status, rule);
  switch (command.type) {
    case 'RaiseAcquire': {
      if (isOver(state)) throw violation('an acquire ends once: a new miss raises a new acquire');
      if (state.status !== 'none' && (state.policyId !== command.policyId || state.selectorIndex !== command.selectorIndex)) {
        throw violation(`the acquire is for ${state.policyId}/${state.selectorIndex}`);
      }
      if (state.status === 'pending') return [];
      if (state.status === 'backoff' && ctx.nowMs < Date.parse(state.retryAt!)) throw violation(`a retry waits for the backoff until ${state.retryAt}`);
      const { policyId, selectorIndex, selector, packet } = command;
      return [fact('AcquireRaised', { policyId, selectorIndex, selector, packet, attempt: state.attempt + 1 }, ctx)];
    }
    case 'SatisfyAcquire':
      requireRange(command.saIds.length > 0, 'command.saIds', 'must name the installed SAs');
      if (state.status === 'satisfied') return [];
      if (state.status !== 'pending' && state.status !== 'backoff') throw violation('only a raised acquire is satisfied');
      return [fact('AcquireSatisfied', { saIds: [...command.saIds] }, ctx)];
    case 'FailAcquire':
    case 'TimeOutAcquire':
      requireRange(Number.isFinite(command.retryInMs) && command.retryInMs >= 0, 'command.retryInMs', 'must be a finite number ≥ 0');
      if (state.status !== 'pending') throw violation('only a pending negotiation fails or times out');
      return command.type === 'FailAcquire'
        ? [fact('AcquireFailed', { reason: command.reason, retryInMs: command.retryInMs }, ctx)]
        : [fact('AcquireTimedOut', { retryInMs: command.retryInMs }, ctx)];
    case 'AbandonAcquire':
      if (isOver(state)) return [];
      if (state.status === 'none') throw violation('there is no acquire to abandon');
      return [fact('AcquireAbandoned', { reason: command.reason }, ctx)];
  }
}

const plus = (at: string, ms: number) => new Date(Date.parse(at) + ms).toISOString();

/**
 * Folds one fact into the state. Pure and total: an unknown fact type only advances the version.
 *
 * @example
 * const state = evolveAcquire(initialAcquireState, raised); // status 'pending', attempt 1
 */
export function evolveAcquire(state: AcquireState, f: AcquireFact): AcquireState {
  const at = f.meta.at;
  const { retryAt: _retryAt, ...rest } = state;
  const next: AcquireState = { ...rest, version: state.version + 1, lastAt: at };
  switch (f.type) {
    case 'AcquireRaised': {
      const { policyId, selectorIndex, selector, packet, attempt } = f.data;
      return { ...next, status: 'pending', policyId, selectorIndex, selector, packet, attempt, raisedAt: at, firstRaisedAt: state.firstRaisedAt ?? at };
    }
    case 'AcquireSatisfied':
      return { ...next, status: 'satisfied', saIds: f.data.saIds, satisfiedAt: at };
    case 'AcquireFailed':
      return { ...next, status: 'backoff', lastFailure: { reason: f.data.reason, at }, retryAt: plus(at, f.data.retryInMs) };
    case 'AcquireTimedOut':
      return { ...next, status: 'backoff', lastFailure: { reason: 'timeout', at }, retryAt: plus(at, f.data.retryInMs) };
    case 'AcquireAbandoned':
      return { ...next, status: 'abandoned', abandoned: { reason: f.data.reason, at } };
    default:
      return { ...next, ...(_retryAt !== undefined ? { retryAt: _retryAt } : {}) };
  }
}
