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

/** Stream `acquire-<id>`. */
export type AcquireFact =
  | Fact<'AcquireRaised', { policyId: string; selector: string }>
  | Fact<'AcquireSatisfied', { saIds: string[] }>
  | Fact<'AcquireFailed', { reason: string; retryInMs: number }>
  | Fact<'AcquireTimedOut', { retryInMs: number }>;

/** Stream `ike-<id>`. */
export type IkeFact =
  | Fact<'IkeSaInitiated', { role: 'initiator' | 'responder'; peer: string; spiI: string; spiR?: string }>
  | Fact<'IkeSaEstablished', { spiR: string; keyRef: string; keyFingerprint: string }>
  | Fact<'IkeSaRekeyed', { newIkeSaId: string }>
  | Fact<'ChildSaMoved', { saId: string; toIkeSaId: string }>
  | Fact<'IkeSaDeleted', { reason: string }>;

/** Stream `nic-<name>`. */
export type NicFact =
  | Fact<'NicCapabilitiesDeclared', { capabilities: unknown; saCapacity: number }>
  | Fact<'NicSaAdded', { saId: string; handle: number }>
  | Fact<'NicSaRemoved', { saId: string; handle: number }>;
