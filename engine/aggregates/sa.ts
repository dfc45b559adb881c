import { IpsecError } from '../errors.js';
import { fact, type CommandContext } from '../events/fact.js';
import type { AddressText, LimitKind, SaDeleteReason, SaFact, SaParams, UsageCheckpoint } from '../events/saFacts.js';

/** RFC 4301 §4.4.2 lifecycle as the control plane sees it (issue 5's larval → mature → rekeying → dying → dead). */
export type SaStatus = 'none' | 'larval' | 'mature' | 'rekeying' | 'dying' | 'dead';

export interface SaState {
  status: SaStatus;
  /** Facts folded so far: the stream version this state corresponds to. */
  version: number;
  larval?: { spi: number; protocol: 'esp' | 'ah'; dst: AddressText; policyId?: string };
  params?: SaParams;
  installedAt?: string;
  usage: UsageCheckpoint;
  softExpired?: { limit: LimitKind; at: string };
  rekey?: { newSaId: string; jitterMs: number; initiator?: 'local' | 'peer'; startedAt: string };
  replacedBy?: { newSaId: string; drainMs: number; at: string };
  seqExhaustedAt?: string;
  offload?: { nic: string; handle: number; at: string };
  offloadRejected?: { nic: string; reason: string; at: string };
  nicDeleteRequestedAt?: string;
  hardExpired?: { limit: LimitKind; at: string };
  deleted?: { reason: SaDeleteReason; at: string };
  /** The IKE SA that owns it now (set at install, changed when an IKE rekey moves it, RFC 7296 §2.8). */
  ikeSaId?: string;
  /** When the last fact happened. */
  lastAt?: string;
}

export const initialSaState: SaState = { status: 'none', version: 0, usage: { packets: 0, bytes: 0, seqHi: 0, seqLo: 0 } };

export type SaCommand =
  | { type: 'CreateLarval'; spi: number; protocol: 'esp' | 'ah'; dst: AddressText; policyId?: string }
  | { type: 'InstallSa'; params: SaParams }
  | { type: 'CheckpointUsage'; usage: UsageCheckpoint }
  | { type: 'ExpireSoft'; limit: LimitKind; usage: UsageCheckpoint }
  | { type: 'StartRekey'; newSaId: string; jitterMs: number; initiator?: 'local' | 'peer' }
  | { type: 'CompleteRekey'; newSaId: string; drainMs: number }
  | { type: 'ExhaustSequence' }
  | { type: 'RecordOffload'; nic: string; handle: number }
  | { type: 'RejectOffload'; nic: string; reason: 'unsupported' | 'capacity' | 'fips' | 'untrusted' | 'error' }
  | { type: 'RequestDeleteByNic'; nic: string }
  | { type: 'ExpireHard'; limit: LimitKind; usage: UsageCheckpoint }
  | { type: 'MoveToIkeSa'; ikeSaId: string }
  | { type: 'DeleteSa'; reason: SaDeleteReason };

/** A command that the SA's current state does not allow; nothing was decided. */
export class SaRuleViolation extends IpsecError {
  constructor(
    readonly command: SaCommand['type'],
    readonly status: SaStatus,
    rule: string,
  ) {
    super('sa.ruleViolation', `${command} is not allowed while the SA is ${status}: ${rule}`);
    this.name = 'SaRuleViolation';
  }
}

const LIVE: readonly SaStatus[] = ['mature', 'rekeying', 'dying'];
const isLive = (s: SaState) => LIVE.includes(s.status);

function nonDecreasing(a: UsageCheckpoint, b: UsageCheckpoint): boolean {
  const seqA = a.seqHi * 2 ** 32 + a.seqLo;
  const seqB = b.seqHi * 2 ** 32 + b.seqLo;
  return b.packets >= a.packets && b.bytes >= a.bytes && seqB >= seqA;
}

/**
 * Decides what a command means for an SA: the facts to record, or a `SaRuleViolation`. Pure.
 * Repeating a command whose effect already happened records nothing (a second DELETE, a second
 * SaDeleteReq from the NIC, a soft expiry already noted), so each SA is deleted exactly once.
 *
 * @example
 * const facts = decideSa({ type: 'DeleteSa', reason: 'operator' }, state, ctx);
 */
export function decideSa(command: SaCommand, state: SaState, ctx: CommandContext): SaFact[] {
  const violation = (rule: string) => new SaRuleViolation(command.type, state.status, rule);
  switch (command.type) {
    case 'CreateLarval':
      if (state.status !== 'none') throw violation('an SA id is created once');
      return [fact('SaLarvalCreated', { spi: command.spi, protocol: command.protocol, dst: command.dst, ...(command.policyId !== undefined ? { policyId: command.policyId } : {}) }, ctx)];
    case 'InstallSa': {
      if (state.status !== 'none' && state.status !== 'larval') throw violation('an SA is installed once');
      const l = state.larval;
      if (l && (l.spi !== command.params.spi || l.protocol !== command.params.protocol)) throw violation(`the larval SA reserved SPI 0x${l.spi.toString(16)}/${l.protocol}`);
      return [fact('SaInstalled', command.params, ctx)];
    }
    case 'CheckpointUsage':
      if (!isLive(state)) throw violation('only a live SA has usage');
      if (!nonDecreasing(state.usage, command.usage)) throw violation('usage and sequence numbers are cumulative and never decrease');
      if (sameUsage(state.usage, command.usage)) return [];
      return [fact('SaUsageCheckpointed', command.usage, ctx)];
    case 'ExpireSoft':
      if (!isLive(state)) throw violation('only a live SA expires');
      if (!nonDecreasing(state.usage, command.usage)) throw violation('usage and sequence numbers are cumulative and never decrease');
      if (state.softExpired || state.status !== 'mature') return [];
      return [fact('SaSoftExpired', { limit: command.limit, usage: command.usage }, ctx)];
    case 'StartRekey':
      if (state.status === 'rekeying' && state.rekey?.newSaId === command.newSaId) return [];
      if (state.status !== 'mature') throw violation('a rekey starts from a mature SA');
      return [fact('RekeyStarted', { newSaId: command.newSaId, jitterMs: command.jitterMs, ...(command.initiator ? { initiator: command.initiator } : {}) }, ctx)];
    case 'CompleteRekey':
      if (state.replacedBy?.newSaId === command.newSaId) return [];
      // The replacement may be the peer's, not ours: in a rekey collision the SA created with
      // the lowest nonce is deleted and the other one replaces the old SA (RFC 7296 §2.8.1).
      if (state.status !== 'rekeying') throw violation(`no rekey is under way (to ${command.newSaId})`);
      return [fact('RekeyCompleted', { newSaId: command.newSaId, drainMs: command.drainMs }, ctx)];
    case 'ExhaustSequence':
      if (!isLive(state)) throw violation('only a live SA sends');
      if (state.params?.direction !== 'outbound') throw violation('only an outbound SA has a sequence counter to exhaust');
      return state.seqExhaustedAt ? [] : [fact('SaSequenceExhausted', {}, ctx)];
    case 'RecordOffload':
      if (state.status !== 'mature' && state.status !== 'rekeying') throw violation('only a mature SA is offloaded');
      if (state.offload) throw violation(`already offloaded to ${state.offload.nic}`);
      return [fact('SaOffloaded', { nic: command.nic, handle: command.handle }, ctx)];
    case 'RejectOffload':
      if (!isLive(state)) throw violation('only a live SA is offered to a NIC');
      return [fact('SaOffloadRejected', { nic: command.nic, reason: command.reason }, ctx)];
    case 'RequestDeleteByNic':
      if (state.status === 'dead' || state.nicDeleteRequestedAt) return [];
      if (!isLive(state)) throw violation('the NIC only knows live SAs');
      return [fact('SaDeleteRequestedByNic', { nic: command.nic }, ctx)];
    case 'ExpireHard':
      if (state.status === 'dead') return [];
      if (!isLive(state)) throw violation('only a live SA expires');
      if (!nonDecreasing(state.usage, command.usage)) throw violation('usage and sequence numbers are cumulative and never decrease');
      // RFC 4301 §4.4.2.1: at the hard limit the SA is deleted.
      return [fact('SaHardExpired', { limit: command.limit, usage: command.usage }, ctx), fact('SaDeleted', { reason: 'hardExpired' as const }, ctx)];
    case 'MoveToIkeSa':
      if (state.ikeSaId === command.ikeSaId) return [];
      if (!isLive(state)) throw violation('only a live SA changes IKE SA');
      return [fact('SaMovedToIkeSa', { ...(state.ikeSaId !== undefined ? { fromIkeSaId: state.ikeSaId } : {}), toIkeSaId: command.ikeSaId }, ctx)];
    case 'DeleteSa':
      if (state.status === 'dead') return [];
      if (state.status === 'none') throw violation('there is no SA to delete');
      return [fact('SaDeleted', { reason: command.reason }, ctx)];
  }
}

function sameUsage(a: UsageCheckpoint, b: UsageCheckpoint): boolean {
  return a.packets === b.packets && a.bytes === b.bytes && a.seqHi === b.seqHi && a.seqLo === b.seqLo;
}

/**
 * Folds one fact into the state. Pure and total: a fact type it does not know (a newer writer)
 * only advances the version.
 *
 * @example
 * const state = facts.reduce(evolveSa, initialSaState);
 */
export function evolveSa(state: SaState, f: SaFact): SaState {
  const at = f.meta.at;
  const next: SaState = { ...state, version: state.version + 1, lastAt: at };
  switch (f.type) {
    case 'SaLarvalCreated':
      return { ...next, status: 'larval', larval: f.data };
    case 'SaInstalled':
      return { ...next, status: 'mature', params: f.data, installedAt: at, ...(f.data.ikeSaId !== undefined ? { ikeSaId: f.data.ikeSaId } : {}) };
    case 'SaMovedToIkeSa':
      return { ...next, ikeSaId: f.data.toIkeSaId };
    case 'SaUsageCheckpointed':
      return { ...next, usage: f.data };
    case 'SaSoftExpired':
      return { ...next, usage: f.data.usage, softExpired: { limit: f.data.limit, at } };
    case 'RekeyStarted':
      return { ...next, status: 'rekeying', rekey: { ...f.data, startedAt: at } };
    case 'RekeyCompleted':
      return { ...next, status: 'dying', replacedBy: { ...f.data, at } };
    case 'SaSequenceExhausted':
      return { ...next, seqExhaustedAt: at };
    case 'SaOffloaded':
      return { ...next, offload: { ...f.data, at } };
    case 'SaOffloadRejected':
      return { ...next, offloadRejected: { ...f.data, at } };
    case 'SaDeleteRequestedByNic':
      return { ...next, nicDeleteRequestedAt: at };
    case 'SaHardExpired':
      return { ...next, status: 'dying', usage: f.data.usage, hardExpired: { limit: f.data.limit, at } };
    case 'SaDeleted': {
      const { offload: _offload, ...rest } = next;
      return { ...rest, status: 'dead', deleted: { reason: f.data.reason, at } };
    }
    default:
      return next;
  }
}
