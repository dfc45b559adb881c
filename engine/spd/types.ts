/**
 * The Security Policy Database's data model (RFC 4301 §4.4.1): selectors, actions and the
 * PROTECT parameters. Plain data, so the XML policy codec, the SAD and the control plane can
 * build and persist it; `validatePolicy` (./validate.ts) says what a well-formed value is.
 *
 * Orientation: selectors speak of "local" and "remote" (RFC 4301 §4.4.1.1), never source and
 * destination. For an outbound packet local = source, remote = destination; for an inbound
 * packet local = destination, remote = source. A policy and its mirror (the outbound and the
 * inbound half of one SA pair) therefore carry identical selectors.
 */

import type { EspSuiteSpec } from '../crypto/types.js';
import type { IntegId } from '../crypto/transformIds.js';
import type { IpsecMode, TunnelEndpoints } from '../sa/types.js';

/**
 * An address selector (RFC 4301 §4.4.1.1 "Local/Remote IP Address(es)"): addresses are 4 octets
 * (IPv4) or 16 (IPv6); a selector set never mixes the two (RFC 4301 §4.4.1.1). `any` matches
 * both families. `opaque` exists for symmetry with the other selectors and for models that
 * carry it, but an IP address is always available, so an `opaque` address matches no packet.
 */
export type AddressSelector =
  | { kind: 'any' }
  | { kind: 'single'; address: Uint8Array }
  /** `length` in bits: 0..32 for IPv4, 0..128 for IPv6; host bits of `address` must be zero. */
  | { kind: 'prefix'; address: Uint8Array; length: number }
  /** Inclusive, `from` ≤ `to` (compared as unsigned big-endian numbers), same family. */
  | { kind: 'range'; from: Uint8Array; to: Uint8Array }
  | { kind: 'opaque' };

/**
 * A port selector (RFC 4301 §4.4.1.1 "Local/Remote Port(s)"), inclusive range 0..65535.
 * `opaque` matches only packets whose ports are unavailable: a non-initial fragment, or a
 * next-layer protocol without ports (RFC 4301 §4.4.1.1: such entries carry OPAQUE ports).
 * `any` matches everything, OPAQUE included.
 */
export type PortSelector = { kind: 'any' } | { kind: 'range'; from: number; to: number } | { kind: 'opaque' };

/**
 * The Next Layer Protocol selector (RFC 4301 §4.4.1.1): the protocol after the IPv6 extension
 * headers that are skipped (Hop-by-Hop, Routing, Fragment, Destination Options; ESP and AH are
 * next-layer protocols). `opaque` (IPv6 only in RFC 4301) matches packets where it cannot be
 * found: a non-initial IPv6 fragment whose Fragment header names another extension header.
 */
export type ProtocolSelector = { kind: 'any' } | { kind: 'number'; value: number } | { kind: 'opaque' };

/** ICMP/ICMPv6 type and code (RFC 4301 §4.4.1.1), each 0..255. */
export interface IcmpTypeCode {
  type: number;
  code: number;
}

/**
 * The ICMP message type/code selector (RFC 4301 §4.4.1.1): the 16-bit value type × 256 + code
 * lies in `[from.type × 256 + from.code, to.type × 256 + to.code]`. So one type with any code
 * is `{ from: { type: t, code: 0 }, to: { type: t, code: 255 } }`. IKEv2 carries the same 16-bit
 * value in its traffic selector ports (RFC 7296 §3.13.1).
 */
export type IcmpSelector =
  | { kind: 'any' }
  | { kind: 'range'; from: IcmpTypeCode; to: IcmpTypeCode }
  | { kind: 'opaque' };

/** The Mobility Header type selector (RFC 4301 §4.4.1.1, RFC 6275 §6.1), inclusive 0..255. */
export type MhTypeSelector = { kind: 'any' } | { kind: 'range'; from: number; to: number } | { kind: 'opaque' };

/**
 * One selector set (RFC 4301 §4.4.1.2): a packet matches when every field matches. `icmp`
 * and `mhType` absent mean ANY. A selector that names an ICMP type/code or MH type matches only
 * packets of that protocol (ICMP/ICMPv6, resp. MH) whose field is in range.
 */
export interface Selector {
  localAddress: AddressSelector;
  remoteAddress: AddressSelector;
  protocol: ProtocolSelector;
  localPort: PortSelector;
  remotePort: PortSelector;
  icmp?: IcmpSelector;
  mhType?: MhTypeSelector;
}

/** Limits of an SA's lifetime (RFC 4301 §4.4.2.1); an absent limit is unlimited. */
export interface LifetimeLimits {
  timeMs?: number;
  bytes?: number;
  packets?: number;
}

/** Soft (rekey) and hard (delete) limits; each soft limit is at most its hard limit. */
export interface Lifetimes {
  soft: LifetimeLimits;
  hard: LifetimeLimits;
}

/** What to do with traffic that matches a PROTECT policy while its SA is being negotiated. */
export type NegotiationShunt = 'hold' | 'drop' | 'pass';

/** The default `negotiationShunt`: queue packets until the SA is up (cf. XFRM larval SAs). */
export const DEFAULT_NEGOTIATION_SHUNT: NegotiationShunt = 'hold';

/** The PROTECT parameters shared by ESP and AH. */
export interface ProtectCommon {
  /** RFC 4301 §4.4.1.2 "IPsec mode". */
  mode: IpsecMode;
  /**
   * Required in tunnel mode, absent in transport mode. Oriented as the SA's outer header in the
   * policy's direction: outbound `src` = this gateway, inbound `src` = the peer (as XFRM's
   * templates are).
   */
  tunnel?: TunnelEndpoints;
  lifetimes: Lifetimes;
  /** 0 (anti-replay off) or 32..4096 (`REPLAY_WINDOW_MIN`..`REPLAY_WINDOW_MAX`). */
  replayWindow: number;
  /** RFC 4301 §4.4.1.2: extended (64-bit) sequence numbers. */
  esn: boolean;
  offload: 'none' | 'prefer' | 'require';
  /** Default `DEFAULT_NEGOTIATION_SHUNT` ('hold'). */
  negotiationShunt?: NegotiationShunt;
  /** UDP encapsulation (RFC 3948) allowed for NAT traversal. */
  natT?: boolean;
}

/**
 * RFC 4301 §4.4.1.2 "Processing info" of a PROTECT entry. `proposals` are in decreasing order
 * of preference: ESP suites, or AH integrity transforms (never `INTEG.NONE`).
 */
export type ProtectParams =
  | (ProtectCommon & { protocol: 'esp'; proposals: EspSuiteSpec[] })
  | (ProtectCommon & { protocol: 'ah'; proposals: IntegId[] });

/** RFC 4301 §4.4.1: the three processing choices. */
export type PolicyAction = 'protect' | 'bypass' | 'discard';

export type PolicyDirection = 'outbound' | 'inbound';

/**
 * One SPD entry. `priority`: lower is consulted first; equal priorities keep insertion order.
 * A policy with several selector sets matches a packet matching any of them (RFC 4301
 * §4.4.1.2). `protect` is present exactly when `action` is 'protect'.
 */
export interface Policy {
  id: string;
  priority: number;
  direction: PolicyDirection;
  selectors: Selector[];
  action: PolicyAction;
  protect?: ProtectParams;
}

/**
 * What the SPD decided for one packet. PROTECT always names its policy; BYPASS and DISCARD name
 * theirs unless the packet matched no policy and the SPD's default applied.
 */
export type SpdDecision =
  | { action: 'protect'; policy: Policy }
  | { action: 'bypass' | 'discard'; policy?: Policy };

/** Action for packets no policy matches (RFC 4301 §4.4.1, §5.1 step 3a: DISCARD unless set). */
export type DefaultAction = 'bypass' | 'discard';

/** The default for unmatched traffic, both directions. */
export const DEFAULT_SPD_ACTION: DefaultAction = 'discard';

/**
 * OPAQUE in `SelectorFields`: the field exists in the selector model but is not available in
 * this packet (RFC 4301 §4.4.1.1).
 *
 * @example
 * if (fields.localPort === OPAQUE) console.log('non-initial fragment, or no ports');
 */
export const OPAQUE = -1;

/**
 * The selector-relevant fields of one packet, oriented local/remote (see the file comment).
 * Numbers use `OPAQUE` (-1) for "not available": ports of a non-initial fragment or of a
 * protocol without ports, ICMP type/code of a non-ICMP packet, and so on.
 */
export interface SelectorFields {
  /** 4 or 16 octets, both the same length. Views into the packet: read before reusing it. */
  localAddress: Uint8Array;
  remoteAddress: Uint8Array;
  /** 0..255 or OPAQUE. */
  protocol: number;
  /** TCP, UDP, SCTP (and UDP-Lite, DCCP) ports, 0..65535, or OPAQUE. */
  localPort: number;
  remotePort: number;
  /** ICMP (IPv4) or ICMPv6 (IPv6): type × 256 + code, or OPAQUE. */
  icmp: number;
  /** Mobility Header type (RFC 6275 §6.1.1), 0..255, or OPAQUE. */
  mhType: number;
}
