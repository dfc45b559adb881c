/**
 * The Traffic Selector payload body (RFC 7296 §3.13) and its selectors (§3.13.1). TS types 7
 * (IPv4 range) and 8 (IPv6 range) are decoded into fields; other types are kept opaque so a
 * message carrying them still decodes and re-encodes byte for byte.
 */

import { readU16 } from '../bytes.js';
import { concatBytes, fail, requireBytes, requireUint, uintBytes } from './codec.js';
import { TS_TYPE } from './constants.js';
import type { AddressRangeSelector, IkeResult, OpaqueSelector, TrafficSelector } from './types.js';

const TS_HEADER = 4;
/** §3.13.1: type, protocol, length, two ports, then two addresses of the type's size. */
const RANGE_SELECTOR_LENGTH = { [TS_TYPE.IPV4_ADDR_RANGE]: 8 + 2 * 4, [TS_TYPE.IPV6_ADDR_RANGE]: 8 + 2 * 16 } as const;

/**
 * True for the address-range selectors (types 7 and 8).
 *
 * @example
 * if (isAddressRange(ts)) console.log(ts.startPort, ts.endPort);
 */
export function isAddressRange(ts: TrafficSelector): ts is AddressRangeSelector {
  return !('octets' in ts);
}

function decodeSelector(b: Uint8Array): TrafficSelector {
  const tsType = b[0]!;
  if (tsType === TS_TYPE.IPV4_ADDR_RANGE || tsType === TS_TYPE.IPV6_ADDR_RANGE) {
    const size = tsType === TS_TYPE.IPV4_ADDR_RANGE ? 4 : 16;
    return {
      tsType,
      ipProtocol: b[1]!,
      startPort: readU16(b, 4),
      endPort: readU16(b, 6),
      startAddress: b.subarray(8, 8 + size),
      endAddress: b.subarray(8 + size, 8 + 2 * size),
    };
  }
  return { tsType, octets: concatBytes([b.subarray(1, 2), b.subarray(4)]) };
}

/**
 * Decodes a TSi/TSr payload body. Refuses a zero count (§3.13: "One or more individual Traffic
 * Selectors"), a range selector whose Selector Length is not 16 (IPv4) or 40 (IPv6), and any
 * disagreement between Number of TSs, the selector lengths and the payload length. Never throws.
 *
 * @example
 * const r = decodeTsBody(body, at);
 * if (r.ok) for (const ts of r.selectors) ...
 */
export function decodeTsBody(body: Uint8Array, at: number): IkeResult<{ selectors: TrafficSelector[] }> {
  if (body.length < TS_HEADER) return fail('truncated', at, 'TS payload shorter than its 4-octet header');
  const count = body[0]!;
  if (count === 0) return fail('malformed', at, 'TS payload with Number of TSs 0');
  const selectors: TrafficSelector[] = [];
  let off = TS_HEADER;
  for (let i = 0; i < count; i++) {
    if (body.length - off < 4) return fail('truncated', at + off, `traffic selector ${i + 1} of ${count} missing`);
    const tsType = body[off]!;
    const length = readU16(body, off + 2);
    const expected = (RANGE_SELECTOR_LENGTH as Record<number, number | undefined>)[tsType];
    if (expected !== undefined && length !== expected) return fail('malformed', at + off + 2, `TS type ${tsType} with Selector Length ${length}, must be ${expected}`);
    if (length < 4) return fail('malformed', at + off + 2, `Selector Length ${length} < 4`);
    if (off + length > body.length) return fail('truncated', at + off + 2, `Selector Length ${length} overruns the TS payload`);
    selectors.push(decodeSelector(body.subarray(off, off + length)));
    off += length;
  }
  if (off !== body.length) return fail('malformed', at + off, `${body.length - off} octets after the last traffic selector`);
  return { ok: true, selectors };
}

function encodeSelector(ts: TrafficSelector, arg: string): Uint8Array {
  requireUint(ts.tsType, 0xff, `${arg}.tsType`);
  if (!isAddressRange(ts)) {
    const o: OpaqueSelector = ts;
    if (o.tsType === TS_TYPE.IPV4_ADDR_RANGE || o.tsType === TS_TYPE.IPV6_ADDR_RANGE) {
      throw new RangeError(`${arg}: TS type ${o.tsType} is an address range; give its fields, not octets`);
    }
    requireBytes(o.octets, `${arg}.octets`, 1, 0xffff - 3);
    const length = o.octets.length + 3;
    return concatBytes([Uint8Array.of(o.tsType, o.octets[0]!), uintBytes(length, 2), o.octets.subarray(1)]);
  }
  const size = ts.tsType === TS_TYPE.IPV4_ADDR_RANGE ? 4 : ts.tsType === TS_TYPE.IPV6_ADDR_RANGE ? 16 : 0;
  if (size === 0) throw new RangeError(`${arg}.tsType: an address range is type 7 or 8, got ${ts.tsType}`);
  requireUint(ts.ipProtocol, 0xff, `${arg}.ipProtocol`);
  requireUint(ts.startPort, 0xffff, `${arg}.startPort`);
  requireUint(ts.endPort, 0xffff, `${arg}.endPort`);
  requireBytes(ts.startAddress, `${arg}.startAddress`, size, size);
  requireBytes(ts.endAddress, `${arg}.endAddress`, size, size);
  const head = Uint8Array.of(ts.tsType, ts.ipProtocol, 0, 8 + 2 * size);
  return concatBytes([head, uintBytes(ts.startPort, 2), uintBytes(ts.endPort, 2), ts.startAddress, ts.endAddress]);
}

/**
 * Encodes a TSi/TSr payload body: 1 to 255 selectors. Throws naming the field on misuse.
 *
 * @example
 * encodeTsBody([{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddress, endAddress }])
 */
export function encodeTsBody(selectors: TrafficSelector[], argument = 'selectors'): Uint8Array {
  if (!Array.isArray(selectors) || selectors.length === 0 || selectors.length > 0xff) {
    throw new RangeError(`${argument}: a TS payload carries 1 to 255 selectors (RFC 7296 §3.13)`);
  }
  return concatBytes([Uint8Array.of(selectors.length, 0, 0, 0), ...selectors.map((ts, i) => encodeSelector(ts, `${argument}[${i}]`))]);
}
