/**
 * The fixed IKE header (RFC 7296 §3.1). Decoding never throws and returns views into the
 * input; encoding validates its argument and throws naming the field.
 */

import { readU32, writeU32 } from '../bytes.js';
import { fail, requireBytes, requireUint } from './codec.js';
import { IKE_FLAG, IKE_HEADER_LENGTH, IKE_MAJOR_VERSION, IKE_SPI_LENGTH } from './constants.js';
import type { IkeHeader, IkeResult } from './types.js';

/** What the header says beyond `IkeHeader`: where the payload chain starts and how long it is. */
export interface DecodedIkeHeader {
  header: IkeHeader;
  /** Type of the first payload (§3.1 Next Payload). */
  nextPayload: number;
  /** The Length field: header + payloads, in octets. */
  length: number;
}

/**
 * Decodes the 28-octet IKE header at the start of `bytes`. Refuses a major version other than
 * 2 with `invalidMajorVersion` (§2.5, §3.1), the header attached so a responder can answer;
 * ignores the minor version's meaning, the V flag and the X bits (§3.1), as the RFC says.
 *
 * @example
 * const h = decodeIkeHeader(datagram);
 * if (h.ok && h.header.exchangeType === IKE_EXCHANGE.IKE_SA_INIT) ...
 */
export function decodeIkeHeader(bytes: Uint8Array): IkeResult<DecodedIkeHeader> {
  if (bytes.length < IKE_HEADER_LENGTH) return fail('truncated', 0, `an IKE header is ${IKE_HEADER_LENGTH} octets, got ${bytes.length}`);
  const version = bytes[17]!;
  const flags = bytes[19]!;
  const header: IkeHeader = {
    spiI: bytes.subarray(0, 8),
    spiR: bytes.subarray(8, 16),
    minorVersion: version & 0x0f,
    exchangeType: bytes[18]!,
    initiator: (flags & IKE_FLAG.INITIATOR) !== 0,
    response: (flags & IKE_FLAG.RESPONSE) !== 0,
    messageId: readU32(bytes, 20),
  };
  // §2.5: "If an endpoint receives a message with a higher major version number, it MUST drop
  // the message and SHOULD send an unauthenticated Notify ... INVALID_MAJOR_VERSION". A lower
  // one is IKEv1, which this implementation does not speak either.
  if (version >> 4 !== IKE_MAJOR_VERSION) {
    return fail('invalidMajorVersion', 17, `major version ${version >> 4}, this implementation speaks 2`, { header });
  }
  return { ok: true, header, nextPayload: bytes[16]!, length: readU32(bytes, 24) };
}

/**
 * Checks an `IkeHeader` value, throwing a TypeError/RangeError naming the field.
 *
 * @example
 * validateIkeHeader(header, 'message.header');
 */
export function validateIkeHeader(header: IkeHeader, argument: string): void {
  if (typeof header !== 'object' || header === null) throw new TypeError(`${argument}: must be an IkeHeader object`);
  requireBytes(header.spiI, `${argument}.spiI`, IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  requireBytes(header.spiR, `${argument}.spiR`, IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  requireUint(header.minorVersion, 0x0f, `${argument}.minorVersion`);
  requireUint(header.exchangeType, 0xff, `${argument}.exchangeType`);
  requireUint(header.messageId, 0xffffffff, `${argument}.messageId`);
  if (typeof header.initiator !== 'boolean') throw new TypeError(`${argument}.initiator: must be a boolean`);
  if (typeof header.response !== 'boolean') throw new TypeError(`${argument}.response: must be a boolean`);
}

/**
 * Encodes the fixed IKE header: version 2.minor, flags I and R as given, V and X bits clear
 * (§3.1: "'X' bits MUST be cleared when sending"; V: "MUST clear this bit when sending").
 *
 * @example
 * const bytes = encodeIkeHeader(header, IKE_PAYLOAD.SA, 28 + payloads.length);
 */
export function encodeIkeHeader(header: IkeHeader, nextPayload: number, length: number, argument = 'header'): Uint8Array {
  validateIkeHeader(header, argument);
  requireUint(nextPayload, 0xff, 'nextPayload');
  requireUint(length, 0xffffffff, 'length');
  if (length < IKE_HEADER_LENGTH) throw new RangeError(`length: an IKE message is at least ${IKE_HEADER_LENGTH} octets, got ${length}`);
  const out = new Uint8Array(IKE_HEADER_LENGTH);
  out.set(header.spiI, 0);
  out.set(header.spiR, 8);
  out[16] = nextPayload;
  out[17] = (IKE_MAJOR_VERSION << 4) | header.minorVersion;
  out[18] = header.exchangeType;
  out[19] = (header.initiator ? IKE_FLAG.INITIATOR : 0) | (header.response ? IKE_FLAG.RESPONSE : 0);
  writeU32(out, 20, header.messageId);
  writeU32(out, 24, length);
  return out;
}
