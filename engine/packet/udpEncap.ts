/**
 * UDP encapsulation of ESP for NAT traversal (RFC 3948): what a datagram to port 4500 carries.
 * Classification never throws and returns views of the input.
 */

import type { DropReason } from '../dropReasons.js';
import { ESP_HEADER } from './espHeader.js';

/** RFC 3948 §2.1 / RFC 7296 §2.23: IKE and UDP-encapsulated ESP share UDP port 4500. */
export const NAT_T_PORT = 4500;
/** RFC 3948 §2.2: four zero octets where an SPI would be mark an IKE message. */
export const NON_ESP_MARKER = 4;
/** RFC 3948 §2.3: the NAT-keepalive payload is the single octet 0xFF. */
export const NAT_KEEPALIVE_OCTET = 0xff;

/** What a port-4500 UDP payload holds. `ike` and `esp` are views of the payload. */
export type UdpEncapKind =
  | { kind: 'keepalive' }
  | { kind: 'ike'; ike: Uint8Array }
  | { kind: 'esp'; esp: Uint8Array }
  | { kind: 'invalid'; reason: DropReason };

/**
 * Classifies the payload of a UDP datagram received on the NAT-T port (RFC 3948 §2):
 * `keepalive` (one 0xFF octet: discard), `ike` (non-ESP marker, `ike` = the IKE message after it),
 * `esp` (non-zero SPI and a whole 8-octet ESP header), or `invalid` with a drop reason
 * (`truncated` when too short for either, `malformed` for a single octet other than 0xFF).
 *
 * @example
 * const c = classifyUdpEncap(udp.payload);
 * if (c.kind === 'esp') decapsulate(c.esp, sad);
 */
export function classifyUdpEncap(payload: Uint8Array): UdpEncapKind {
  if (payload.length === 1) {
    // RFC 3948 §2.3: a NAT-keepalive carries one octet, 0xFF; the receiver ignores it.
    if (payload[0] === NAT_KEEPALIVE_OCTET) return { kind: 'keepalive' };
    return { kind: 'invalid', reason: 'malformed' };
  }
  if (payload.length < NON_ESP_MARKER) return { kind: 'invalid', reason: 'truncated' };
  // RFC 3948 §2.2: the Non-ESP Marker is 4 zero octets, where ESP has its (non-zero) SPI.
  if ((payload[0]! | payload[1]! | payload[2]! | payload[3]!) === 0) {
    return { kind: 'ike', ike: payload.subarray(NON_ESP_MARKER) };
  }
  // RFC 3948 §2.1: otherwise the payload is an ESP packet, starting with SPI and Sequence Number.
  if (payload.length < ESP_HEADER) return { kind: 'invalid', reason: 'truncated' };
  return { kind: 'esp', esp: payload };
}
