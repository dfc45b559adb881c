/**
 * What the PF_KEY endpoint needs from the SAD, and nothing more: a port the host wires to
 * engine/sad's `Sad` (or to `memorySadPort()` in tests). An SA here is what PF_KEY can say about
 * it (RFC 2367 §2.3): keys as KEY extensions carry them, lifetimes in PF_KEY's units, the mode
 * and reqid of X_SA2. Turning it into a data-path `EspSa`/`AhSa` is the wiring's job.
 */

import type { EncrId, IntegId } from '../crypto/transformIds.js';
import type { RandomInt } from '../sad/sad.js';
import type { LifetimeLimit, SaLifetimes } from '../sad/types.js';

export type PfKeyProtocol = 'esp' | 'ah';

/** How PF_KEY names one SA: RFC 2367 §2.3.1, (SPI, destination, protocol). */
export interface SaKey {
  spi: number;
  /** 4 or 16 octets. */
  dst: Uint8Array;
  protocol: PfKeyProtocol;
}

/** One `sadb_lifetime` bound; 0 in a field means "no limit" (RFC 2367 §2.3.2). */
export interface PfKeyLifetime {
  /** `sadb_lifetime_allocations`, which Linux applies as a packet limit. */
  packets: number;
  bytes: bigint;
  /** Seconds after the SA was added. */
  addSeconds: bigint;
  /** Seconds after the SA was first used. */
  useSeconds: bigint;
}

/** An SA as PF_KEY describes it. */
export interface PfKeySa {
  spi: number;
  protocol: PfKeyProtocol;
  /** Outer source and destination (4 or 16 octets, one family). */
  src: Uint8Array;
  dst: Uint8Array;
  /** RFC 2367 §2.3.1 states we keep: LARVAL after GETSPI, MATURE after UPDATE/ADD, DYING after a soft expire. */
  state: 'larval' | 'mature' | 'dying';
  mode: 'transport' | 'tunnel';
  /** X_SA2 reqid: ties the SA to its policy's ipsecrequest (Linux xfrm reqid). */
  reqid: number;
  /** `sadb_sa_replay`: replay window in packets (0 = off). */
  replayWindow: number;
  /** `sadb_sa_flags` (SADB_SAFLAGS_*). */
  flags: number;
  /** ESP encryption, key followed by its salt/nonce as IKEv2 KEYMAT lays it out. */
  encr?: { transform: EncrId; keyBits: number; key: Uint8Array };
  integ?: { transform: Exclude<IntegId, 0>; key: Uint8Array };
  soft?: PfKeyLifetime;
  hard?: PfKeyLifetime;
  /** RFC 3948 UDP encapsulation (X_NAT_T_TYPE, X_NAT_T_SPORT, X_NAT_T_DPORT). */
  natT?: { encapType: number; srcPort: number; dstPort: number };
  /** When the SA (larval or not) entered the SAD: an input, ms since the epoch. */
  addedAtMs: number;
}

/** The current lifetime of an SA (RFC 2367 SADB_EXT_LIFETIME_CURRENT), read from the data path. */
export interface PfKeyUsage {
  packets: number;
  bytes: number;
  /** When the first packet used it, if one has. */
  firstUsedAtMs?: number;
}

/** The SAD's answer to a change. */
export type SadPortResult = { ok: true } | { ok: false; reason: 'exists' | 'notFound' | 'rejected'; message: string };

/** A random integer in [0, n), from the host (the engine has no randomness of its own). */
export type { RandomInt };

/**
 * The SAD as the PF_KEY endpoint drives it. Synchronous and total: failures are values.
 *
 * @example
 * const endpoint = new PfKeyEndpoint({ sad: memorySadPort(), random });
 */
export interface SadPort {
  /** An SPI in [min, max] no live SA uses, or undefined when the range is full. */
  allocateSpi(range: { min: number; max: number }, random: RandomInt): number | undefined;
  get(key: SaKey): PfKeySa | undefined;
  /** Current usage; undefined for a larval SA or one the data path has not seen. */
  usage(key: SaKey): PfKeyUsage | undefined;
  /** Adds a new SA (larval or mature): `exists` when (SPI, dst, protocol) is taken. */
  add(sa: PfKeySa): SadPortResult;
  /** Replaces the SA with the same key (larval → mature, lifetimes, dying): `notFound` otherwise. */
  replace(sa: PfKeySa): SadPortResult;
  remove(key: SaKey): boolean;
  /** Every SA, or those of one protocol, in a stable order. */
  list(protocol?: PfKeyProtocol): PfKeySa[];
}

/** The key of an SA. */
export function keyOf(sa: Pick<PfKeySa, 'spi' | 'dst' | 'protocol'>): SaKey {
  return { spi: sa.spi, dst: sa.dst, protocol: sa.protocol };
}

function limitOf(l: PfKeyLifetime | undefined): LifetimeLimit {
  const out: LifetimeLimit = {};
  if (!l) return out;
  if (l.addSeconds > 0n) out.timeMs = Number(l.addSeconds) * 1000;
  if (l.bytes > 0n) out.bytes = Number(l.bytes);
  if (l.packets > 0) out.packets = l.packets;
  return out;
}

/**
 * engine/sad's lifetimes for a PF_KEY SA: add-time seconds become `timeMs`, allocations become
 * packets (as Linux applies them); use-time limits have no SAD counterpart and are dropped.
 *
 * @example
 * toSaLifetimes(sa) // { soft: { timeMs: 3_000_000 }, hard: { timeMs: 3_600_000 } }
 */
export function toSaLifetimes(sa: Pick<PfKeySa, 'soft' | 'hard'>): SaLifetimes {
  return { soft: limitOf(sa.soft), hard: limitOf(sa.hard) };
}
