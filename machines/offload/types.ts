/**
 * What the offload actor is told and what it tells: offers and withdrawals in, decisions out.
 * Keys travel in an offer to the NIC and nowhere else: never into a fact, never into the
 * machine's context (DESIGN §3).
 */
import type { NicCapabilities, NicRejectReason, NicState, OffloadPolicy } from '../../engine/aggregates/nic.js';
import type { EspKeys } from '../../engine/crypto/types.js';
import type { NicFact } from '../../engine/events/otherFacts.js';
import type { SaParams } from '../../engine/events/saFacts.js';

/** An SA offered to a NIC: its parameters as recorded and what programming it needs besides. */
export interface OfferedSa {
  saId: string;
  params: SaParams;
  /** From the key store; handed to the NIC with ADD_SA. */
  keys: EspKeys;
  /** Outbound: continue after this sequence number (a restarted SA, DESIGN §3). */
  sequenceStart?: { hi: number; lo: number };
  /** Outer TTL / Hop Limit in tunnel mode. */
  ttl?: number;
  /** Tunnel mode: TFC padding target (RFC 4303 §2.7). */
  tfcPadTo?: number;
}

/**
 * The outcome for one SA, reported once its fact is durable, so the SA's own actor can record
 * `SaOffloaded` / `SaOffloadRejected`: a handle (the data path may use it from now on), a reason
 * to stay in software, or the news that an offloaded SA's handle is gone (`lost`: the NIC forgot
 * it; `restart`: handles of the previous process; `retired`: the NIC left service) — the SA is in
 * software from then on and may be offered again.
 */
export type OffloadDecision =
  | { saId: string; nic: string; handle: number }
  | { saId: string; nic: string; reason: NicRejectReason }
  | { saId: string; nic: string; removed: 'lost' | 'restart' | 'retired' };

/** What an offload actor starts from. */
export interface OffloadInput {
  /** The NIC's name: stream `nic-<name>`. */
  nic: string;
  /** What the NIC declares now (recorded when it differs from the log). */
  capabilities: NicCapabilities;
  policy: OffloadPolicy;
  /** The folded stream to resume from (rehydration); default: a NIC never seen. */
  state?: NicState;
}

/** The machine's context: configuration (fixed) and the folded facts. */
export interface OffloadContext {
  nic: string;
  capabilities: NicCapabilities;
  policy: OffloadPolicy;
  /** The folded facts: the only part of the context that ever changes. */
  state: NicState;
}

/** What the offload actor is sent. */
export type OffloadEvent =
  | { type: 'offload.offer'; sa: OfferedSa }
  /** The SA died (or moves to software): DELETE_SA once, capacity freed. */
  | { type: 'offload.withdraw'; saId: string }
  /** The data path found the handle dead (`noSa` on transmit): the NIC lost the SA. */
  | { type: 'nic.saLost'; handle: number }
  /** After a failed reset: try again. */
  | { type: 'nic.retry' }
  /** Take the NIC out of service: every SA goes to software, the NIC is reset. */
  | { type: 'nic.retire' };

/** Emitted for observers; decisions go through the runtime's `reportDecision` (once durable). */
export type OffloadEmitted = { type: 'facts'; facts: NicFact[] } | { type: 'rejected'; command: string; message: string };

/** What the ADD_SA actor reports. */
export interface AddSaOutput {
  kind: 'addSa';
  saId: string;
  handle: number | null;
  reason?: 'unsupported' | 'capacity';
}

/**
 * The child id of the ADD_SA in flight for an SA.
 *
 * @example
 * addSaId('a1') // 'addSa:a1'
 */
export const addSaId = (saId: string) => `addSa:${saId}`;
