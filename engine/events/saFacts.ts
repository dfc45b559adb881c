import type { EncrId, IntegId } from '../crypto/transformIds.js';
import type { SaLifetimes } from '../sad/types.js';
import type { IpsecMode, SaDirection } from '../sa/types.js';
import type { Fact } from './fact.js';
import type { ReplayState } from '../replay/replayState.js';

/** Addresses in facts are text (IPv4 dotted, IPv6 RFC 5952), so logs read well and JSON round-trips. */
export type AddressText = string;

/** Everything needed to rebuild the SA except its keys, which sit sealed in the key store. */
export interface SaParams {
  spi: number;
  protocol: 'esp' | 'ah';
  direction: SaDirection;
  mode: IpsecMode;
  tunnel?: { src: AddressText; dst: AddressText };
  /** The address packets are looked up by (inbound) or sent to (outbound). */
  dst: AddressText;
  encr?: EncrId;
  encrKeyBits?: number;
  integ: IntegId;
  esn: boolean;
  replayWindow: number;
  lifetimes: SaLifetimes;
  natT?: { srcPort: number; dstPort: number };
  policyId?: string;
  ikeSaId?: string;
  /** The SA of the other direction negotiated with this one (a CHILD SA is a pair, RFC 7296 §1.3). */
  pairedSaId?: string;
  /** The key store's reference to this SA's keys, and a fingerprint to check them by. Never the keys (DESIGN §3). */
  keyRef: string;
  keyFingerprint: string;
}

export type LimitKind = 'time' | 'bytes' | 'packets';
export type SaDeleteReason = 'operator' | 'peer' | 'hardExpired' | 'rekeyed' | 'seqExhausted' | 'nicRequest' | 'acquireFailed' | 'ikeSaDeleted' | 'rekeyCollision';

/** Cumulative usage at a checkpoint (cf. XFRM NEWAE): never decreases. */
export interface UsageCheckpoint {
  packets: number;
  bytes: number;
  /** Outbound: the last sequence number used (a restart resumes past it plus a margin). Inbound: the highest received. */
  seqHi: number;
  seqLo: number;
  /** Inbound: the anti-replay window then (RFC 4303 §3.4.3), so a restart does not reopen it. */
  replay?: ReplayState;
}

/** The SA aggregate's facts, stream `sa-<id>`. */
export type SaFact =
  | Fact<'SaLarvalCreated', { spi: number; protocol: 'esp' | 'ah'; dst: AddressText; policyId?: string }>
  | Fact<'SaInstalled', SaParams>
  | Fact<'SaUsageCheckpointed', UsageCheckpoint>
  | Fact<'SaSoftExpired', { limit: LimitKind; usage: UsageCheckpoint }>
  | Fact<'RekeyStarted', { newSaId: string; jitterMs: number; initiator?: 'local' | 'peer' }>
  | Fact<'RekeyCompleted', { newSaId: string; drainMs: number }>
  | Fact<'SaSequenceExhausted', Record<string, never>>
  | Fact<'SaOffloaded', { nic: string; handle: number }>
  | Fact<'SaOffloadRejected', { nic: string; reason: 'unsupported' | 'capacity' | 'fips' | 'untrusted' | 'error' }>
  | Fact<'SaDeleteRequestedByNic', { nic: string }>
  | Fact<'SaHardExpired', { limit: LimitKind; usage: UsageCheckpoint }>
  | Fact<'SaMovedToIkeSa', { fromIkeSaId?: string; toIkeSaId: string }>
  | Fact<'SaDeleted', { reason: SaDeleteReason }>;

export type SaFactType = SaFact['type'];
