import type { Fact } from './fact.js';

/**
 * Facts of the other aggregates. Their deciders come with the issues that drive them (acquire,
 * IKE, NIC: the control plane and IKEv2 issues); the types are fixed here so logs are readable
 * and stores can be filled and replayed from today on.
 */

/** Stream `policy-<id>`: the policy as data (the SPD types, JSON-safe). */
export type PolicyFact =
  | Fact<'PolicyAdded', { policy: unknown; source: PolicySource }>
  | Fact<'PolicyReplaced', { policy: unknown; source: PolicySource }>
  | Fact<'PolicyRemoved', { source: PolicySource }>;

/** Who changed the SPD: the file, the CLI, SNMP (user and address), PF_KEY. */
export interface PolicySource {
  via: 'file' | 'cli' | 'snmp' | 'pfkey' | 'api';
  who?: string;
  file?: string;
}

/**
 * Stream `acquire-<id>`: one negotiation effort for one (policy, selector), from the first miss
 * until an SA pair is up or the effort is given up. `attempt` counts raises (1, 2, ...): after a
 * failure or timeout the next packet past the backoff raises the same acquire again. `packet`:
 * the triggering packet's selector fields (RFC 4301 §4.4.1.2 PFP, RFC 2367 §3.1.6's address
 * extensions), addresses as text, -1 for OPAQUE, so a resumed acquire asks for the same thing.
 */
export type AcquireFact =
  | Fact<'AcquireRaised', {
      policyId: string;
      selector: string;
      selectorIndex: number;
      packet: { localAddress: string; remoteAddress: string; protocol: number; localPort: number; remotePort: number };
      attempt: number;
    }>
  | Fact<'AcquireSatisfied', { saIds: string[] }>
  | Fact<'AcquireFailed', { reason: string; retryInMs: number }>
  | Fact<'AcquireTimedOut', { retryInMs: number }>
  /** Given up: no traffic came back after the backoff (`idle`), or its policy went away (`cancelled`). */
  | Fact<'AcquireAbandoned', { reason: 'idle' | 'cancelled' }>;

/** Stream `ike-<id>`. IKEv2 (issue 7) adds the exchange steps; the lifecycle facts are here. */
export type IkeFact =
  | Fact<'IkeSaInitiated', { role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }>
  | Fact<'IkeSaEstablished', { spiR: string; keyRef: string; keyFingerprint: string; peer?: string; softLifetimeMs?: number; hardLifetimeMs?: number; rekeyOf?: string; spiI?: string; role?: 'initiator' | 'responder'; suite?: string }>
  /**
   * One IKEv2 exchange (RFC 7296 §1.2–§1.5) as this side saw it end: which, its Message ID, who
   * sent the request (`us`/`peer`), and how it ended (`ok`, a Notify name such as
   * AUTHENTICATION_FAILED or NO_PROPOSAL_CHOSEN, or `timeout`). `detail` says what was agreed
   * or refused (suite, traffic selectors, SPIs).
   */
  | Fact<'IkeExchangeCompleted', { exchange: string; messageId: number; requestBy: 'us' | 'peer'; outcome: string; detail?: string }>
  | Fact<'ChildSaAdded', { saId: string }>
  | Fact<'ChildSaRemoved', { saId: string }>
  | Fact<'IkeSaRekeyStarted', { newIkeSaId: string }>
  | Fact<'IkeSaRekeyed', { newIkeSaId: string }>
  | Fact<'ChildSaMoved', { saId: string; toIkeSaId: string }>
  | Fact<'IkeSaDeleted', { reason: string }>;

/**
 * Stream `nic-<name>`: one offload NIC as the gateway programmed it (machines/offload). The
 * capabilities are `NicCapabilities` (engine/aggregates/nic.ts) as JSON. A removal says why the
 * handle is gone: `withdrawn` (DELETE_SA, the SA died), `lost` (the NIC forgot it), `restart`
 * (the previous process's handles, abandoned: the NIC is reset on start), `retired` (the NIC
 * was taken out of service). Absent on facts written before the reason existed.
 */
export type NicFact =
  | Fact<'NicCapabilitiesDeclared', { capabilities: unknown; saCapacity: number }>
  | Fact<'NicSaAdded', { saId: string; handle: number }>
  | Fact<'NicSaRemoved', { saId: string; handle: number; reason?: 'withdrawn' | 'lost' | 'restart' | 'retired' }>
  | Fact<'NicSaRejected', { saId: string; reason: 'unsupported' | 'capacity' | 'fips' | 'untrusted' | 'error' }>
  | Fact<'NicRetired', Record<string, never>>;
