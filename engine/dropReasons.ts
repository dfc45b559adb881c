/**
 * Why a packet was dropped: one string-literal union, one counter per reason, per SA and
 * globally (cf. VPP's per-SA IPsec error counters and the Linux XFRM MIB).
 */
export const DROP_REASONS = [
  /** Shorter than the headers it claims, or than the minimum for its SA. */
  'truncated',
  /** Structurally invalid: bad version, bad header length, bad total length, bad extension chain. */
  'malformed',
  /** IPv4 header checksum does not verify. */
  'badChecksum',
  /** Not an IPsec packet where one was expected (wrong protocol, UDP not to the ESP port). */
  'notIpsec',
  /** A fragment: IPsec processes reassembled packets only (RFC 4303 §3.4.1). */
  'fragment',
  /** No SA for (SPI, destination, protocol) (RFC 4303 §3.4.2). */
  'unknownSpi',
  /** Sequence number already seen inside the window (RFC 4303 §3.4.3). */
  'replayed',
  /** Sequence number left of the window (RFC 4303 §3.4.3). */
  'tooOld',
  /** ICV did not verify (RFC 4303 §3.4.4, RFC 4302 §3.4.4). */
  'authFailed',
  /** Padding bytes are not 1, 2, 3, ... or the pad length overruns the payload (RFC 4303 §2.4). */
  'badPadding',
  /** Well-formed, but uses something this implementation does not process (e.g. an IPv6 Routing type whose arrival form AH cannot compute). */
  'unsupported',
  /** Next Header in the trailer does not fit the SA's mode. */
  'badNextHeader',
  /** A TFC dummy packet (Next Header 59): discarded by rule (RFC 4303 §2.6). */
  'dummy',
  /** Decrypted packet does not match the policy of the SA it arrived on (RFC 4301 §5.2). */
  'policyMismatch',
  /** Outbound sequence counter would cycle (RFC 4303 §3.3.3): the SA must be rekeyed. */
  'seqExhausted',
  /** Outbound: no SA for the policy. */
  'noSa',
  /** The packet would exceed the maximum IP length once encapsulated. */
  'oversized',
  /** The offload NIC reported an error for this packet. */
  'offloadError',
  /** An SPD DISCARD policy, or the SPD's default, matched (RFC 4301 §5.1 step 3a, §5.2 step 3). */
  'discarded',
  /** A filter hook dropped it (or threw). */
  'filtered',
  /** Held while its SA was negotiated (ACQUIRE), and the negotiation failed or timed out. */
  'acquireFailed',
  /** No SA and no room to wait for one: the acquire queue is full, acquires are rate-limited, or the acquire is backing off after a failure. */
  'acquireLimited',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** A per-packet outcome: a value, never an exception. */
export type Result<T> = ({ ok: true } & T) | { ok: false; reason: DropReason };

/** One counter per drop reason. */
export type DropCounts = Record<DropReason, number>;

/**
 * A fresh set of counters, all zero.
 *
 * @example
 * const drops = newDropCounts(); drops.replayed++;
 */
export function newDropCounts(): DropCounts {
  const counts = {} as DropCounts;
  for (const reason of DROP_REASONS) counts[reason] = 0;
  return counts;
}

/** Drops by reason, globally and per SA: one object a gateway keeps and passes to the data path. */
export class DropCounters {
  readonly global: DropCounts = newDropCounts();
  readonly #perSa = new Map<string, DropCounts>();

  /**
   * Counts one drop; `saId` when the packet could be tied to an SA.
   *
   * @example
   * counters.count('authFailed', 'sa-7');
   */
  count(reason: DropReason, saId?: string): void {
    this.global[reason]++;
    if (saId === undefined) return;
    let c = this.#perSa.get(saId);
    if (!c) this.#perSa.set(saId, (c = newDropCounts()));
    c[reason]++;
  }

  /** Counters of one SA (all zero if it never dropped). */
  forSa(saId: string): DropCounts {
    return this.#perSa.get(saId) ?? newDropCounts();
  }

  /** Total drops, all reasons. */
  total(): number {
    let n = 0;
    for (const reason of DROP_REASONS) n += this.global[reason];
    return n;
  }
}
