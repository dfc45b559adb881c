/**
 * The ICV input of an AH packet (RFC 4302 §3.3.3): the part in front of the payload with mutable
 * fields zeroed, "mutable but predictable" ones set to their value at the destination and the
 * ICV field zeroed (§3.3.3.1), then the payload, then with ESN the high sequence bits
 * (§3.3.3.2.2). Works on a scratch copy: the caller's packet is only read.
 */

import type { DropReason, Result } from '../dropReasons.js';
import { IPPROTO } from '../packet/ipProtocol.js';
import type { Ipv6Extension } from '../packet/ipv6.js';
import { writeU32 } from '../bytes.js';
import { AH_ICV_OFFSET } from './ahHeader.js';

/**
 * RFC 4302 Appendix A1, "IMMUTABLE -- included in ICV calculation", by option type octet:
 * End of Options List, No Operation, Security, Extended Security, Commercial Security, Router
 * Alert, Sender Directed Multi-Destination Delivery. Everything else, listed as mutable,
 * experimental or not listed at all, is zeroed.
 *
 * @example
 * IPV4_IMMUTABLE_OPTIONS.has(148) // true: Router Alert
 */
export const IPV4_IMMUTABLE_OPTIONS: ReadonlySet<number> = new Set([0, 1, 130, 133, 134, 148, 149]);

const IPV4_EOL = 0;
const IPV4_NOP = 1;
const IPV4_LSRR = 131;
const IPV4_SSRR = 137;
/** RFC 8200 §4.2: the third-highest bit of an option type: "Option Data may change en route". */
const IPV6_OPTION_MAY_CHANGE = 0x20;
const IPV6_PAD1 = 0;

/**
 * A copy of `packet[0 .. ahOffset + ahLength)` ready to be fed to the ICV, followed by the
 * payload and (with ESN) the high sequence bits. The ICV field is zeroed; its padding is kept as
 * sent (RFC 4302 §3.3.3.2.1: padding is "included in the ICV calculation ... transmitted ... to
 * enable the receiver to perform the ICV calculation"). `extensions` are the IPv6 extension
 * headers of `packet` (any past `ahOffset` are ignored). Drops: `malformed` for an IPv4 option
 * list or IPv6 option area that overruns its header, and for a routing header with segments
 * left whose arrival form cannot be predicted (a type other than 0 and 2).
 *
 * @example
 * const r = icvHeaderInput(packet, 4, [], 20, 24, 12);
 * if (r.ok) integ.computeInto([r.bytes, packet.subarray(44)], packet, 32);
 */
export function icvHeaderInput(
  packet: Uint8Array,
  version: 4 | 6,
  extensions: readonly Ipv6Extension[],
  ahOffset: number,
  ahLength: number,
  icvLength: number,
): Result<{ bytes: Uint8Array }> {
  const bytes = packet.slice(0, ahOffset + ahLength);
  // RFC 4302 §3.3.3.1, §3.4.4: the ICV is replaced "(but not any ICV field padding) with zero".
  bytes.fill(0, ahOffset + AH_ICV_OFFSET, ahOffset + AH_ICV_OFFSET + icvLength);
  const bad = version === 4 ? zeroMutableIpv4(bytes) : zeroMutableIpv6(bytes, extensions, ahOffset);
  return bad === undefined ? { ok: true, bytes } : { ok: false, reason: bad };
}

/**
 * The ICV input after the header part: the payload, then with ESN the high 32 sequence bits,
 * which enter the ICV but never the wire (RFC 4302 §2.5.1; appended after the packet and any
 * implicit padding, §3.3.3.2.2).
 *
 * @example
 * integ.verify(icvParts(header, payload, seqHi), icv)
 */
export function icvParts(header: Uint8Array, payload: Uint8Array, seqHi: number | undefined): Uint8Array[] {
  if (seqHi === undefined) return [header, payload];
  const hi = new Uint8Array(4);
  writeU32(hi, 0, seqHi);
  return [header, payload, hi];
}

/**
 * RFC 4302 §3.3.3.1.1: zeroes, in place, the mutable fields of the IPv4 header at the start of
 * `h` and its mutable options; under source routing sets the destination to the final one.
 *
 * @example
 * zeroMutableIpv4(scratch) // undefined when the options parse
 */
export function zeroMutableIpv4(h: Uint8Array): DropReason | undefined {
  // §3.3.3.1.1.1: TOS (DSCP/ECN), Flags, Fragment Offset, TTL and Header Checksum are mutable.
  h[1] = 0;
  h[6] = 0;
  h[7] = 0;
  h[8] = 0;
  h[10] = 0;
  h[11] = 0;
  const end = (h[0]! & 0x0f) * 4;
  let i = 20;
  while (i < end) {
    const type = h[i]!;
    // RFC 791 §3.1: End of Option List ends the list; what follows is padding (immutable).
    if (type === IPV4_EOL) break;
    if (type === IPV4_NOP) {
      i++;
      continue;
    }
    const length = i + 1 < end ? h[i + 1]! : 0;
    if (length < 2 || i + length > end) return 'malformed';
    if (type === IPV4_LSRR || type === IPV4_SSRR) {
      // RFC 791 §3.1: length 3 + 4n; an address remains while pointer + 3 ≤ length.
      if (length < 7 || (length - 3) % 4 !== 0) return 'malformed';
      // §3.3.3.1.1.1: with source routing the destination is "mutable but predictable": the
      // ICV covers the final destination, the last address of the route (as Linux ah4.c).
      // Once the route is used up the header already holds it.
      if (h[i + 2]! + 3 <= length) h.copyWithin(16, i + length - 4, i + length);
    }
    // §3.3.3.1.1.2: "if an option is classified as mutable, the entire option is zeroed".
    if (!IPV4_IMMUTABLE_OPTIONS.has(type)) h.fill(0, i, i + length);
    i += length;
  }
  return undefined;
}

/**
 * RFC 4302 §3.3.3.1.2: zeroes, in place, Traffic Class, Flow Label and Hop Limit of the IPv6
 * header at the start of `h`, the data of en-route-mutable options in the Hop-by-Hop and
 * Destination Options headers before `limit`, and rewrites a Routing header as it will arrive.
 *
 * @example
 * zeroMutableIpv6(scratch, parsed.extensions, ahOffset)
 */
export function zeroMutableIpv6(h: Uint8Array, extensions: readonly Ipv6Extension[], limit: number): DropReason | undefined {
  // §3.3.3.1.2.1: Class, Flow Label and Hop Limit are mutable; the version nibble is not.
  h[0] = h[0]! & 0xf0;
  h[1] = 0;
  h[2] = 0;
  h[3] = 0;
  h[7] = 0;
  for (const ext of extensions) {
    if (ext.offset >= limit) break;
    let bad: DropReason | undefined;
    if (ext.type === IPPROTO.HOPOPTS || ext.type === IPPROTO.DSTOPTS) {
      bad = zeroMutableOptions(h, ext.offset + 2, ext.offset + ext.length);
    } else if (ext.type === IPPROTO.ROUTING) {
      bad = routingAsArrived(h, ext.offset, ext.length);
    }
    // A Fragment header before AH means a fragment, which never gets this far (§3.4.1).
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** RFC 4302 §3.3.3.1.2.2: each option marked "may change en route" has its data zeroed. */
function zeroMutableOptions(h: Uint8Array, start: number, end: number): DropReason | undefined {
  let i = start;
  while (i < end) {
    const type = h[i]!;
    // RFC 8200 §4.2: Pad1 is a single octet, without length or data.
    if (type === IPV6_PAD1) {
      i++;
      continue;
    }
    if (i + 2 > end) return 'malformed';
    const dataEnd = i + 2 + h[i + 1]!;
    if (dataEnd > end) return 'malformed';
    // §3.3.3.1.2.2: "the entire Option Data field must be treated as zero-valued octets";
    // Option Type and Opt Data Len stay in.
    if ((type & IPV6_OPTION_MAY_CHANGE) !== 0) h.fill(0, i + 2, dataEnd);
    i = dataEnd;
  }
  return undefined;
}

/**
 * RFC 4302 Appendix A2 (Routing, type 0): "mutable but predictable": the sender orders the
 * fields as they will appear at the receiver. Following RFC 8200 §4.4 / RFC 2460 §4.4 to the end
 * of the route, hop i = n − left + 1 .. n swaps the Destination Address with Address[i], and
 * Segments Left ends at 0. Type 2 (RFC 6275 §6.4) is the same with n = 1. A header that arrived
 * (Segments Left 0) is already in that form, whatever its type; other types with segments left
 * are refused: their arrival form is not defined here.
 */
function routingAsArrived(h: Uint8Array, offset: number, length: number): DropReason | undefined {
  const type = h[offset + 2]!;
  const left = h[offset + 3]!;
  if (left === 0) return undefined;
  if (type !== 0 && type !== 2) return 'unsupported';
  const n = (length - 8) / 16;
  if (!Number.isInteger(n) || left > n || (type === 2 && n !== 1)) return 'malformed';
  const dst = 24;
  const tmp = new Uint8Array(16);
  for (let i = n - left + 1; i <= n; i++) {
    const at = offset + 8 + 16 * (i - 1);
    tmp.set(h.subarray(dst, dst + 16));
    h.copyWithin(dst, at, at + 16);
    h.set(tmp, at);
  }
  h[offset + 3] = 0;
  return undefined;
}
