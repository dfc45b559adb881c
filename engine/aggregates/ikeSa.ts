import { IpsecError } from '../errors.js';
import { fact, type CommandContext } from '../events/fact.js';
import type { IkeFact } from '../events/otherFacts.js';

/**
 * The IKE SA as the control plane sees it (RFC 7296 §1, §2.8): established → rekeying → dead, and
 * the CHILD SAs it owns. Rekeying an IKE SA moves every child to the new IKE SA (RFC 7296 §2.8:
 * "the CHILD_SAs ... are inherited by the new IKE SA"); deleting it deletes its children (§1.4.1).
 */
export type IkeSaStatus = 'none' | 'initiated' | 'established' | 'rekeying' | 'dead';

export interface IkeSaState {
  status: IkeSaStatus;
  version: number;
  peer?: string;
  establishedAt?: string;
  softLifetimeMs?: number;
  hardLifetimeMs?: number;
  /** The IKE SA this one replaced. */
  rekeyOf?: string;
  /** CHILD SA ids it owns now. */
  children: string[];
  rekey?: { newIkeSaId: string; startedAt: string };
  rekeyedTo?: string;
  deleted?: { reason: string; at: string };
  /** IKEv2 Message IDs (RFC 7296 §2.2): the next request we send, the next the peer sends. */
  messageIds?: { nextOut: number; nextIn: number };
  /** The last exchange that did not end `ok` (a refusal or a timeout), for "why did this IKE SA die?". */
  lastFailure?: { exchange: string; outcome: string; detail?: string };
  lastAt?: string;
}

export const initialIkeSaState: IkeSaState = { status: 'none', version: 0, children: [] };

export type IkeSaCommand =
  | { type: 'InitiateIkeSa'; role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }
  | { type: 'RecordExchange'; exchange: string; messageId: number; requestBy: 'us' | 'peer'; outcome: string; detail?: string }
  | { type: 'EstablishIkeSa'; spiR: string; keyRef: string; keyFingerprint: string; peer?: string; softLifetimeMs?: number; hardLifetimeMs?: number; rekeyOf?: string }
  | { type: 'AddChild'; saId: string }
  | { type: 'RemoveChild'; saId: string }
  | { type: 'StartIkeRekey'; newIkeSaId: string }
  | { type: 'CompleteIkeRekey'; newIkeSaId: string }
  | { type: 'DeleteIkeSa'; reason: string };

export class IkeSaRuleViolation extends IpsecError {
  constructor(readonly command: IkeSaCommand['type'], readonly status: IkeSaStatus, rule: string) {
    super('ike.ruleViolation', `${command} is not allowed while the IKE SA is ${status}: ${rule}`);
    this.name = 'IkeSaRuleViolation';
  }
}

const live = (s: IkeSaState) => s.status === 'established' || s.status === 'rekeying';

/**
 * Decides an IKE SA command; pure. Completing a rekey records, in one append, the rekey, one
 * ChildSaMoved per child and the old IKE SA's deletion: the children never belong to nobody.
 *
 * @example
 * decideIkeSa({ type: 'CompleteIkeRekey', newIkeSaId: 'ike-2' }, state, ctx);
 */
export function decideIkeSa(command: IkeSaCommand, state: IkeSaState, ctx: CommandContext): IkeFact[] {
  const violation = (rule: string) => new IkeSaRuleViolation(command.type, state.status, rule);
  switch (command.type) {
    case 'InitiateIkeSa': {
      if (state.status !== 'none') throw violation('an IKE SA is initiated once');
      const { type: _t, ...data } = command;
      return [fact('IkeSaInitiated', data, ctx)];
    }
    case 'RecordExchange': {
      if (state.status === 'none') throw violation('exchanges belong to an initiated IKE SA');
      if (state.status === 'dead') return [];
      const { type: _t, ...data } = command;
      return [fact('IkeExchangeCompleted', data, ctx)];
    }
    case 'EstablishIkeSa': {
      if (state.status !== 'none' && state.status !== 'initiated') throw violation('an IKE SA is established once');
      const { type: _t, ...data } = command;
      return [fact('IkeSaEstablished', data, ctx)];
    }
    case 'AddChild':
      if (!live(state)) throw violation('only a live IKE SA gets children');
      return state.children.includes(command.saId) ? [] : [fact('ChildSaAdded', { saId: command.saId }, ctx)];
    case 'RemoveChild':
      return state.children.includes(command.saId) ? [fact('ChildSaRemoved', { saId: command.saId }, ctx)] : [];
    case 'StartIkeRekey':
      if (state.status === 'rekeying' && state.rekey?.newIkeSaId === command.newIkeSaId) return [];
      if (state.status !== 'established') throw violation('a rekey starts from an established IKE SA');
      return [fact('IkeSaRekeyStarted', { newIkeSaId: command.newIkeSaId }, ctx)];
    case 'CompleteIkeRekey':
      if (state.rekeyedTo === command.newIkeSaId) return [];
      if (state.status !== 'rekeying') throw violation('no rekey is under way');
      // RFC 7296 §2.8: the children move to the new IKE SA; the old one is then deleted.
      return [
        fact('IkeSaRekeyed', { newIkeSaId: command.newIkeSaId }, ctx),
        ...state.children.map((saId) => fact('ChildSaMoved', { saId, toIkeSaId: command.newIkeSaId }, ctx)),
        fact('IkeSaDeleted', { reason: 'rekeyed' }, ctx),
      ];
    case 'DeleteIkeSa':
      if (state.status === 'dead') return [];
      if (state.status === 'none') throw violation('there is no IKE SA to delete');
      return [fact('IkeSaDeleted', { reason: command.reason }, ctx)];
  }
}

/**
 * Folds one IKE fact; total (unknown types only advance the version).
 *
 * @example
 * const state = facts.reduce(evolveIkeSa, initialIkeSaState);
 */
export function evolveIkeSa(state: IkeSaState, f: IkeFact): IkeSaState {
  const at = f.meta.at;
  const next: IkeSaState = { ...state, version: state.version + 1, lastAt: at };
  switch (f.type) {
    case 'IkeSaInitiated':
      return { ...next, status: 'initiated', peer: f.data.peer };
    case 'IkeSaEstablished': {
      const { peer, softLifetimeMs, hardLifetimeMs, rekeyOf } = f.data;
      return { ...next, status: 'established', establishedAt: at, ...(peer !== undefined ? { peer } : {}), ...(softLifetimeMs !== undefined ? { softLifetimeMs } : {}), ...(hardLifetimeMs !== undefined ? { hardLifetimeMs } : {}), ...(rekeyOf !== undefined ? { rekeyOf } : {}) };
    }
    case 'ChildSaAdded':
      return { ...next, children: [...state.children, f.data.saId] };
    case 'ChildSaRemoved':
      return { ...next, children: state.children.filter((c) => c !== f.data.saId) };
    case 'IkeSaRekeyStarted':
      return { ...next, status: 'rekeying', rekey: { newIkeSaId: f.data.newIkeSaId, startedAt: at } };
    case 'IkeSaRekeyed':
      return { ...next, rekeyedTo: f.data.newIkeSaId };
    case 'ChildSaMoved':
      return { ...next, children: state.children.filter((c) => c !== f.data.saId) };
    case 'IkeSaDeleted':
      return { ...next, status: 'dead', deleted: { reason: f.data.reason, at } };
    case 'IkeExchangeCompleted': {
      const ids = state.messageIds ?? { nextOut: 0, nextIn: 0 };
      const { exchange, outcome, detail, messageId, requestBy } = f.data;
      const messageIds = requestBy === 'us' ? { ...ids, nextOut: Math.max(ids.nextOut, messageId + 1) } : { ...ids, nextIn: Math.max(ids.nextIn, messageId + 1) };
      return { ...next, messageIds, ...(outcome !== 'ok' ? { lastFailure: { exchange, outcome, ...(detail !== undefined ? { detail } : {}) } } : {}) };
    }
    default:
      return next;
  }
}
