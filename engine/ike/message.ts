/**
 * Whole IKE messages (RFC 7296 §3.1, §3.2): the fixed header, then the payload chain.
 * `decodeIkeMessage` never throws; `encodeIkeMessage` validates and throws naming the field.
 * An SK payload is carried sealed here; `sk.ts` seals and opens it.
 */

import { concatBytes, fail } from './codec.js';
import { IKE_HEADER_LENGTH, NOTIFY_TYPE } from './constants.js';
import { decodeIkeHeader, encodeIkeHeader } from './header.js';
import { decodePayloadChain, encodePayloadChain } from './payloadChain.js';
import type { IkeDecodeFailure, IkeMessage, IkeResult } from './types.js';

/**
 * Decodes one IKE message occupying all of `bytes` (a UDP payload on port 500, or on 4500
 * after the four-octet non-ESP marker has been removed, §2.23). Refuses a Length field that
 * disagrees with the datagram, payload lengths that disagree with each other, an unknown
 * critical payload (§2.5), an Encrypted payload that is not last (§3.14). Failures after the
 * header carry the decoded header. Byte fields are views into `bytes`.
 *
 * @example
 * const r = decodeIkeMessage(datagram);
 * if (!r.ok) reply(notifyForDecodeFailure(r)); else handle(r.message);
 */
export function decodeIkeMessage(bytes: Uint8Array): IkeResult<{ message: IkeMessage }> {
  const h = decodeIkeHeader(bytes);
  if (!h.ok) return h;
  const { header, nextPayload, length } = h;
  // §3.1 Length: "Length of the total message (header + payloads) in octets."
  if (length < IKE_HEADER_LENGTH) return fail('malformed', 24, `Length ${length} < ${IKE_HEADER_LENGTH}`, { header });
  if (length > bytes.length) return fail('truncated', 24, `Length ${length} but ${bytes.length} octets received`, { header });
  if (length < bytes.length) return fail('malformed', length, `${bytes.length - length} octets after the message's Length`, { header });
  const chain = decodePayloadChain(bytes, nextPayload, IKE_HEADER_LENGTH, length, { insideSk: false });
  if (!chain.ok) return { ...chain, header };
  return { ok: true, message: { header, payloads: chain.payloads } };
}

/**
 * Encodes an IKE message: header with Next Payload and Length filled in, payloads chained.
 * Throws TypeError/RangeError naming the field (`message.header.spiI`,
 * `message.payloads[2].proposals[0].spi`, ...) on misuse.
 *
 * @example
 * const bytes = encodeIkeMessage({ header, payloads: [sa, ke, nonce, natdSrc, natdDst] });
 */
export function encodeIkeMessage(message: IkeMessage): Uint8Array {
  if (typeof message !== 'object' || message === null) throw new TypeError('message: must be an IkeMessage object');
  if (typeof message.header !== 'object' || message.header === null) throw new TypeError('message.header: must be an IkeHeader object');
  const chain = encodePayloadChain(message.payloads, 'message.payloads', { response: message.header.response === true, insideSk: false });
  const length = IKE_HEADER_LENGTH + chain.bytes.length;
  return concatBytes([encodeIkeHeader(message.header, chain.firstType, length, 'message.header'), chain.bytes]);
}

/**
 * The error Notify a responder may send for a refused request, or undefined when the message
 * must be dropped silently. §2.5: UNSUPPORTED_CRITICAL_PAYLOAD with the one-octet type as data;
 * INVALID_MAJOR_VERSION; §3.10.1: INVALID_SYNTAX for anything else malformed — but only "for
 * and in an encrypted packet if the Message ID and cryptographic checksum were valid", which the
 * caller decides (`badPadding` is found only after the ICV verified). A message failing its
 * integrity check is never answered (§2.21).
 *
 * @example
 * const n = notifyForDecodeFailure(r); // { notifyType: 1, data: Uint8Array [99] }
 */
export function notifyForDecodeFailure(failure: IkeDecodeFailure): { notifyType: number; data: Uint8Array } | undefined {
  switch (failure.reason) {
    case 'unsupportedCriticalPayload':
      return { notifyType: NOTIFY_TYPE.UNSUPPORTED_CRITICAL_PAYLOAD, data: Uint8Array.of(failure.payloadType ?? 0) };
    case 'invalidMajorVersion':
      return { notifyType: NOTIFY_TYPE.INVALID_MAJOR_VERSION, data: new Uint8Array(0) };
    case 'malformed':
    case 'truncated':
    case 'badPadding':
      return { notifyType: NOTIFY_TYPE.INVALID_SYNTAX, data: new Uint8Array(0) };
    case 'authFailed':
      return undefined;
  }
}
