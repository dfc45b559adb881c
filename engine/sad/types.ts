import type { AhSa } from '../ah/ahSa.js';
import type { EspSa } from '../esp/espSa.js';
import type { SaDirection } from '../sa/types.js';

/** One bound of an SA lifetime (RFC 4301 §4.4.2.1 "Lifetime of this SA"): whichever comes first. */
export interface LifetimeLimit {
  timeMs?: number;
  bytes?: number;
  packets?: number;
}

/** Soft: start a rekey (and warn the key manager); hard: the SA is removed. */
export interface SaLifetimes {
  soft: LifetimeLimit;
  hard: LifetimeLimit;
}

/** The data-path half of an SA: its keys, counters, replay window and usage. */
export type DataPathSa = EspSa | AhSa;

export type IpsecProtocolName = 'esp' | 'ah';

/**
 * RFC 4301 §4.4.2.1's SAD entry. The data-path SA holds what changes per packet (sequence
 * counter and its overflow flag, anti-replay window, usage) and the algorithms, mode and tunnel
 * header addresses; the entry adds what the control plane decides with. A larval entry (an SPI
 * reserved by GETSPI, RFC 2367 §3.1.1) has no data-path SA yet.
 */
export interface SadEntry {
  /** The aggregate id: events go to stream `sa-<id>`. */
  readonly id: string;
  readonly spi: number;
  readonly protocol: IpsecProtocolName;
  readonly direction: SaDirection;
  /** Inbound: the address packets arrive to (the lookup key with SPI and protocol). Outbound: the peer. */
  readonly dst: Uint8Array;
  /** Undefined while larval. */
  readonly sa: DataPathSa | undefined;
  readonly lifetimes: SaLifetimes;
  /** When it was added, as an input (ms since the epoch); soft/hard time limits count from it. */
  readonly addedAtMs: number;
  /** The SPD entry this SA was created for (RFC 4301 §4.4.2.1 "SPD entry reference"). */
  readonly policyId: string | undefined;
  /** RFC 4301 §7: stateful fragment checking, for non-initial fragments in tunnel mode. */
  readonly statefulFragmentCheck: boolean;
  /** Path MTU observed for this SA and its age (RFC 4301 §8.2). */
  readonly pathMtu: number | undefined;
}

/** Which limit an SA has reached, if any (RFC 4301 §4.4.2.1: soft warns, hard deletes). */
export type LifetimeVerdict = 'ok' | 'soft' | 'hard';

/** What `Sad.allocateSpi` chooses from (RFC 2367 §2.3.9 SPIRANGE; 0..255 are never given). */
export interface SpiRange {
  min: number;
  max: number;
}
