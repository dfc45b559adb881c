/**
 * IP protocol / IPv6 Next Header numbers used by the data path (IANA "Assigned Internet
 * Protocol Numbers"; the same registry serves IPv4 Protocol and IPv6 Next Header, RFC 8200 §3).
 */

/**
 * Protocol numbers, by their IANA keyword.
 *
 * @example
 * if (header.protocol === IPPROTO.ESP) decapsulate(payload, sad);
 */
export const IPPROTO = {
  /** IPv6 Hop-by-Hop Options (RFC 8200 §4.3). */
  HOPOPTS: 0,
  ICMP: 1,
  /** IPv4-in-IP: the ESP Next Header of a tunnel-mode IPv4 inner packet (RFC 4303 §2.6). */
  IPIP: 4,
  IPV4: 4,
  TCP: 6,
  UDP: 17,
  /** IPv6-in-IP: the ESP Next Header of a tunnel-mode IPv6 inner packet. */
  IPV6: 41,
  /** IPv6 Routing header (RFC 8200 §4.4). */
  ROUTING: 43,
  /** IPv6 Fragment header (RFC 8200 §4.5). */
  FRAGMENT: 44,
  /** Encapsulating Security Payload (RFC 4303). */
  ESP: 50,
  /** Authentication Header (RFC 4302). */
  AH: 51,
  ICMPV6: 58,
  /** No Next Header (RFC 8200 §4.7); in ESP it marks a TFC dummy packet (RFC 4303 §2.6). */
  NONE: 59,
  /** IPv6 Destination Options (RFC 8200 §4.6). */
  DSTOPTS: 60,
  /** Mobility Header (RFC 6275). */
  MH: 135,
} as const;

/** One of the named numbers above (fields on the wire are plain `number`: any 0..255 can occur). */
export type IpProtocolNumber = (typeof IPPROTO)[keyof typeof IPPROTO];

/**
 * True for the IPv6 extension headers that `parseIpv6` walks past (RFC 8200 §4.1): Hop-by-Hop,
 * Routing, Fragment and Destination Options. ESP and AH end the walk: what follows them is the
 * IPsec payload.
 *
 * @example
 * isWalkedIpv6Extension(IPPROTO.ROUTING) // true
 * isWalkedIpv6Extension(IPPROTO.ESP)     // false
 */
export function isWalkedIpv6Extension(nextHeader: number): boolean {
  return (
    nextHeader === IPPROTO.HOPOPTS ||
    nextHeader === IPPROTO.ROUTING ||
    nextHeader === IPPROTO.FRAGMENT ||
    nextHeader === IPPROTO.DSTOPTS
  );
}
