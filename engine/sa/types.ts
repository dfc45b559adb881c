/** What every IPsec SA (ESP or AH) has in common on the data path (RFC 4301 §4.4.2.1). */

/** RFC 4301 §4.1: tunnel mode wraps the whole IP packet; transport mode protects its payload. */
export type IpsecMode = 'tunnel' | 'transport';

/** Outer header addresses of a tunnel-mode SA (4 octets each for IPv4, 16 for IPv6). */
export interface TunnelEndpoints {
  src: Uint8Array;
  dst: Uint8Array;
}

/** RFC 3948 UDP encapsulation: the SA's ports (4500 both sides unless a NAT rewrote them). */
export interface NatTPorts {
  srcPort: number;
  dstPort: number;
}

/** Cumulative usage of one SA (RFC 4301 §4.4.2.1 lifetimes in bytes and packets). */
export interface SaUsage {
  packets: number;
  /** Octets of protected payload (the inner packet in tunnel mode, the upper layer in transport). */
  bytes: number;
}

export type SaDirection = 'inbound' | 'outbound';
