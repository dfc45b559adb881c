/**
 * Chains of payloads behind generic payload headers (RFC 7296 §3.2): each header's Next
 * Payload names the type of the payload after it, 0 ends the chain, and an Encrypted payload
 * (SK, or SKF of RFC 7383) ends it too, its Next Payload naming the first payload inside it
 * (§3.14). The critical bit follows §2.5 and §3.2.
 */

import { readU16 } from '../bytes.js';
import { concatBytes, fail, uintBytes } from './codec.js';
import { CRITICAL_BIT, GENERIC_PAYLOAD_HEADER_LENGTH, IKE_PAYLOAD } from './constants.js';
import { decodePayloadBody, encodePayloadBody, isKnownPayloadType, payloadTypeOf } from './payloads.js';
import type { IkePayload, IkeResult } from './types.js';

/** Where a chain sits: the clear part of a message, or the plaintext of an SK payload. */
export interface ChainContext {
  /** Inside an Encrypted payload another one is malformed. */
  insideSk: boolean;
}

const isEncrypted = (type: number) => type === IKE_PAYLOAD.SK || type === IKE_PAYLOAD.SKF;

/**
 * Decodes the payloads in `bytes[start..end)`, the first of type `firstType`. Offsets in
 * failures are offsets in `bytes`. A payload type this codec does not know is skipped and kept
 * as `unknown` unless its critical bit is set, which refuses the whole message with
 * `unsupportedCriticalPayload` and the type (§2.5: "If the critical flag is set and the payload
 * type is unrecognized, the message MUST be rejected"). Never throws.
 *
 * @example
 * const r = decodePayloadChain(message, header.nextPayload, 28, header.length, { insideSk: false });
 */
export function decodePayloadChain(
  bytes: Uint8Array,
  firstType: number,
  start: number,
  end: number,
  context: ChainContext,
): IkeResult<{ payloads: IkePayload[] }> {
  const payloads: IkePayload[] = [];
  let type = firstType;
  let off = start;
  while (type !== IKE_PAYLOAD.NONE) {
    if (end - off < GENERIC_PAYLOAD_HEADER_LENGTH) return fail('truncated', off, `payload of type ${type} announced but ${end - off} octets left`);
    const next = bytes[off]!;
    const critical = (bytes[off + 1]! & CRITICAL_BIT) !== 0;
    const length = readU16(bytes, off + 2);
    if (length < GENERIC_PAYLOAD_HEADER_LENGTH) return fail('malformed', off + 2, `Payload Length ${length} < 4`);
    if (off + length > end) return fail('truncated', off + 2, `Payload Length ${length} overruns the message`);
    // §3.2: the C bit "MUST be ignored by the recipient if the recipient understands the payload type".
    if (!isKnownPayloadType(type) && critical) {
      return fail('unsupportedCriticalPayload', off, `critical payload of unknown type ${type}`, { payloadType: type });
    }
    if (isEncrypted(type) && context.insideSk) return fail('malformed', off, 'an Encrypted payload inside an Encrypted payload');
    const r = decodePayloadBody(type, next, critical, bytes.subarray(off + GENERIC_PAYLOAD_HEADER_LENGTH, off + length), off + GENERIC_PAYLOAD_HEADER_LENGTH);
    if (!r.ok) return r;
    payloads.push(r.payload);
    off += length;
    if (isEncrypted(type)) {
      // §3.14: "The Encrypted payload, if present in a message, MUST be the last payload".
      if (off !== end) return fail('malformed', off, `${end - off} octets after the Encrypted payload`);
      return { ok: true, payloads };
    }
    type = next;
  }
  if (off !== end) return fail('malformed', off, `${end - off} octets after the last payload`);
  return { ok: true, payloads };
}

/** Options of `encodePayloadChain`. */
export interface EncodeChainOptions {
  /** Encoding a response: §2.5 "Payloads sent in IKE response messages MUST NOT have the critical flag set". */
  response: boolean;
  insideSk: boolean;
}

/**
 * Encodes payloads with their generic headers and Next Payload chaining; returns the type of
 * the first (for the IKE header or the SK header) and the bytes. Known payload types go out
 * with the C bit clear (§3.2: "MUST be set to zero for payload types defined in this document").
 * Throws naming the payload on misuse: an SK/SKF payload not last, one inside SK, a critical
 * unknown payload in a response, a payload over 65535 octets.
 *
 * @example
 * const { firstType, bytes } = encodePayloadChain(payloads, 'payloads', { response: false, insideSk: false });
 */
export function encodePayloadChain(payloads: IkePayload[], argument: string, options: EncodeChainOptions): { firstType: number; bytes: Uint8Array } {
  if (!Array.isArray(payloads)) throw new TypeError(`${argument}: must be an array of payloads`);
  const parts: Uint8Array[] = [];
  payloads.forEach((p, i) => {
    const arg = `${argument}[${i}]`;
    if (typeof p !== 'object' || p === null) throw new TypeError(`${arg}: must be a payload object`);
    const isLast = i === payloads.length - 1;
    let next = isLast ? IKE_PAYLOAD.NONE : payloadTypeOf(payloads[i + 1]!);
    if (p.type === 'SK' || p.type === 'SKF') {
      if (options.insideSk) throw new RangeError(`${arg}: an Encrypted payload cannot sit inside another`);
      if (!isLast) throw new RangeError(`${arg}: the Encrypted payload must be the last payload (RFC 7296 §3.14)`);
      next = p.firstPayload;
    }
    const critical = p.type === 'unknown' && p.critical;
    if (critical && options.response) throw new RangeError(`${arg}.critical: a response must not carry a critical payload (RFC 7296 §2.5)`);
    const body = encodePayloadBody(p, arg);
    const length = GENERIC_PAYLOAD_HEADER_LENGTH + body.length;
    if (length > 0xffff) throw new RangeError(`${arg}: payload of ${length} octets exceeds the 16-bit Payload Length`);
    parts.push(Uint8Array.of(next, critical ? CRITICAL_BIT : 0), uintBytes(length, 2), body);
  });
  return { firstType: payloads.length === 0 ? IKE_PAYLOAD.NONE : payloadTypeOf(payloads[0]!), bytes: concatBytes(parts) };
}
