/**
 * Payload bodies (what follows the 4-octet generic header, RFC 7296 §3.2) for every payload
 * type this codec knows, and the mapping between payload kinds and type numbers. Decoders never
 * throw and return views into their input; encoders throw naming the field on misuse.
 */

import { readU16 } from '../bytes.js';
import { concatBytes, fail, requireBytes, requireUint, uintBytes } from './codec.js';
import { IKE_PAYLOAD, IKE_PROTOCOL, NONCE_MAX_LENGTH, NONCE_MIN_LENGTH } from './constants.js';
import { decodeSaBody, encodeSaBody } from './saPayload.js';
import { decodeTsBody, encodeTsBody } from './tsPayload.js';
import type { CfgAttribute, IkePayload, IkePayloadKind, IkeResult } from './types.js';

const KIND_BY_NUMBER = new Map<number, Exclude<IkePayloadKind, 'unknown'>>([
  [IKE_PAYLOAD.SA, 'SA'], [IKE_PAYLOAD.KE, 'KE'], [IKE_PAYLOAD.IDi, 'IDi'], [IKE_PAYLOAD.IDr, 'IDr'],
  [IKE_PAYLOAD.CERT, 'CERT'], [IKE_PAYLOAD.CERTREQ, 'CERTREQ'], [IKE_PAYLOAD.AUTH, 'AUTH'], [IKE_PAYLOAD.NONCE, 'Nonce'],
  [IKE_PAYLOAD.NOTIFY, 'N'], [IKE_PAYLOAD.DELETE, 'D'], [IKE_PAYLOAD.VENDOR_ID, 'V'], [IKE_PAYLOAD.TSi, 'TSi'],
  [IKE_PAYLOAD.TSr, 'TSr'], [IKE_PAYLOAD.SK, 'SK'], [IKE_PAYLOAD.CP, 'CP'], [IKE_PAYLOAD.EAP, 'EAP'], [IKE_PAYLOAD.SKF, 'SKF'],
]);
const NUMBER_BY_KIND = new Map([...KIND_BY_NUMBER].map(([n, k]) => [k, n]));

/**
 * The payload type number of a payload value (§3.2 table; SKF from RFC 7383 §2.5).
 *
 * @example
 * payloadTypeOf({ type: 'Nonce', data }) // 40
 */
export function payloadTypeOf(p: IkePayload): number {
  if (p.type === 'unknown') return p.payloadType;
  const n = NUMBER_BY_KIND.get(p.type);
  if (n === undefined) throw new TypeError(`payload.type: unknown payload kind ${String((p as { type: unknown }).type)}`);
  return n;
}

/**
 * True when this codec knows the payload type (and so ignores its critical bit, §3.2).
 *
 * @example
 * isKnownPayloadType(46) // true (SK)
 */
export function isKnownPayloadType(payloadType: number): boolean {
  return KIND_BY_NUMBER.has(payloadType);
}

type BodyResult = IkeResult<{ payload: IkePayload }>;
const ok = (payload: IkePayload): BodyResult => ({ ok: true, payload });

function typed(body: Uint8Array, at: number, name: string): BodyResult | undefined {
  return body.length < 4 ? fail('truncated', at, `${name} payload shorter than its 4-octet fixed part`) : undefined;
}

function decodeCpAttributes(b: Uint8Array, at: number): IkeResult<{ attributes: CfgAttribute[] }> {
  const attributes: CfgAttribute[] = [];
  for (let off = 0; off < b.length; ) {
    if (b.length - off < 4) return fail('truncated', at + off, 'configuration attribute shorter than 4 octets');
    const length = readU16(b, off + 2);
    if (off + 4 + length > b.length) return fail('truncated', at + off + 2, `configuration attribute of ${length} octets overruns the CP payload`);
    // §3.15.1: the R bit "MUST be set to zero and MUST be ignored on receipt".
    attributes.push({ type: readU16(b, off) & 0x7fff, value: b.subarray(off + 4, off + 4 + length) });
    off += 4 + length;
  }
  return { ok: true, attributes };
}

function decodeDelete(body: Uint8Array, at: number): BodyResult {
  const protocol = body[0]!;
  const spiSize = body[1]!;
  const count = readU16(body, 2);
  // §3.11: Protocol ID "Must be 1 for an IKE SA, 2 for AH, or 3 for ESP"; SPI Size "MUST be zero
  // for IKE ... or four for AH and ESP"; deleting the IKE SA carries "no SPIs".
  if (protocol === IKE_PROTOCOL.IKE) {
    if (spiSize !== 0 || count !== 0 || body.length !== 4) return fail('malformed', at + 1, 'Delete of the IKE SA must have SPI Size 0 and no SPIs');
    return ok({ type: 'D', protocol, spis: [] });
  }
  if (protocol !== IKE_PROTOCOL.AH && protocol !== IKE_PROTOCOL.ESP) return fail('malformed', at, `Delete for protocol ${protocol}`);
  if (spiSize !== 4) return fail('malformed', at + 1, `Delete SPI Size ${spiSize} for AH/ESP, must be 4`);
  if (body.length !== 4 + 4 * count) return fail(body.length < 4 + 4 * count ? 'truncated' : 'malformed', at + 2, `Num of SPIs ${count} disagrees with the payload length`);
  const spis: Uint8Array[] = [];
  for (let i = 0; i < count; i++) spis.push(body.subarray(4 + 4 * i, 8 + 4 * i));
  return ok({ type: 'D', protocol, spis });
}

/**
 * Decodes one payload body. `nextPayloadField` is the Next Payload octet of this payload's own
 * generic header, which for SK/SKF names the first inner payload (§3.14). A type this codec does
 * not know comes back as `{ type: 'unknown' }`; the caller applies the critical-bit rule (§2.5).
 *
 * @example
 * const r = decodePayloadBody(IKE_PAYLOAD.NONCE, 0, false, body, at);
 */
export function decodePayloadBody(payloadType: number, nextPayloadField: number, critical: boolean, body: Uint8Array, at: number): BodyResult {
  const kind = KIND_BY_NUMBER.get(payloadType);
  switch (kind) {
    case undefined:
      return ok({ type: 'unknown', payloadType, critical, body });
    case 'SA': {
      const r = decodeSaBody(body, at);
      return r.ok ? ok({ type: 'SA', proposals: r.proposals }) : r;
    }
    case 'TSi':
    case 'TSr': {
      const r = decodeTsBody(body, at);
      return r.ok ? ok({ type: kind, selectors: r.selectors }) : r;
    }
    case 'KE':
      return typed(body, at, 'KE') ?? ok({ type: 'KE', group: readU16(body, 0), data: body.subarray(4) });
    case 'IDi':
    case 'IDr':
      return typed(body, at, kind) ?? ok({ type: kind, idType: body[0]!, data: body.subarray(4) });
    case 'AUTH':
      return typed(body, at, 'AUTH') ?? ok({ type: 'AUTH', method: body[0]!, data: body.subarray(4) });
    case 'CERT':
    case 'CERTREQ':
      if (body.length < 1) return fail('truncated', at, `${kind} payload without its Encoding octet`);
      return ok({ type: kind, encoding: body[0]!, data: body.subarray(1) });
    case 'Nonce':
      // §3.9: "The size of the Nonce Data MUST be between 16 and 256 octets, inclusive."
      if (body.length < NONCE_MIN_LENGTH || body.length > NONCE_MAX_LENGTH) return fail('malformed', at, `Nonce of ${body.length} octets, must be 16 to 256`);
      return ok({ type: 'Nonce', data: body });
    case 'N': {
      if (body.length < 4) return fail('truncated', at, 'Notify payload shorter than its 4-octet fixed part');
      const spiSize = body[1]!;
      if (4 + spiSize > body.length) return fail('truncated', at + 1, `Notify SPI Size ${spiSize} overruns the payload`);
      return ok({ type: 'N', protocol: body[0]!, spi: body.subarray(4, 4 + spiSize), notifyType: readU16(body, 2), data: body.subarray(4 + spiSize) });
    }
    case 'D':
      return typed(body, at, 'Delete') ?? decodeDelete(body, at);
    case 'V':
      return ok({ type: 'V', data: body });
    case 'EAP':
      return ok({ type: 'EAP', data: body });
    case 'SK':
      return ok({ type: 'SK', firstPayload: nextPayloadField, body });
    case 'SKF': {
      if (body.length < 4) return fail('truncated', at, 'SKF payload shorter than its Fragment Number and Total Fragments');
      const fragmentNumber = readU16(body, 0);
      const totalFragments = readU16(body, 2);
      // RFC 7383 §2.5: neither field is zero, the number does not exceed the total, and only
      // fragment 1 names the first inner payload.
      if (fragmentNumber === 0 || totalFragments === 0 || fragmentNumber > totalFragments) return fail('malformed', at, `fragment ${fragmentNumber} of ${totalFragments}`);
      if (fragmentNumber > 1 && nextPayloadField !== 0) return fail('malformed', at - 4, 'Next Payload must be 0 in fragments after the first');
      return ok({ type: 'SKF', firstPayload: nextPayloadField, fragmentNumber, totalFragments, body: body.subarray(4) });
    }
    case 'CP': {
      const head = typed(body, at, 'CP');
      if (head) return head;
      const r = decodeCpAttributes(body.subarray(4), at + 4);
      return r.ok ? ok({ type: 'CP', cfgType: body[0]!, attributes: r.attributes }) : r;
    }
  }
}

const fixed4 = (first: number, arg: string): Uint8Array => {
  requireUint(first, 0xff, arg);
  return Uint8Array.of(first, 0, 0, 0);
};

/**
 * Encodes one payload body (without its generic header). Throws TypeError/RangeError naming
 * the field on misuse, e.g. a Nonce outside 16-256 octets or an ESP Delete SPI not 4 octets.
 *
 * @example
 * encodePayloadBody({ type: 'N', protocol: 0, spi: new Uint8Array(0), notifyType: NOTIFY_TYPE.COOKIE, data: cookie }, 'payloads[0]')
 */
export function encodePayloadBody(p: IkePayload, arg: string): Uint8Array {
  switch (p.type) {
    case 'SA':
      return encodeSaBody(p.proposals, `${arg}.proposals`);
    case 'TSi':
    case 'TSr':
      return encodeTsBody(p.selectors, `${arg}.selectors`);
    case 'KE':
      requireUint(p.group, 0xffff, `${arg}.group`);
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return concatBytes([uintBytes(p.group, 2), uintBytes(0, 2), p.data]);
    case 'IDi':
    case 'IDr':
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return concatBytes([fixed4(p.idType, `${arg}.idType`), p.data]);
    case 'AUTH':
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return concatBytes([fixed4(p.method, `${arg}.method`), p.data]);
    case 'CERT':
    case 'CERTREQ':
      requireUint(p.encoding, 0xff, `${arg}.encoding`);
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return concatBytes([Uint8Array.of(p.encoding), p.data]);
    case 'Nonce':
      requireBytes(p.data, `${arg}.data`, NONCE_MIN_LENGTH, NONCE_MAX_LENGTH);
      return p.data.slice();
    case 'N':
      requireUint(p.protocol, 0xff, `${arg}.protocol`);
      requireBytes(p.spi, `${arg}.spi`, 0, 0xff);
      requireUint(p.notifyType, 0xffff, `${arg}.notifyType`);
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return concatBytes([Uint8Array.of(p.protocol, p.spi.length), uintBytes(p.notifyType, 2), p.spi, p.data]);
    case 'D': {
      requireUint(p.protocol, 0xff, `${arg}.protocol`);
      if (!Array.isArray(p.spis)) throw new TypeError(`${arg}.spis: must be an array`);
      if (p.protocol === IKE_PROTOCOL.IKE) {
        if (p.spis.length !== 0) throw new RangeError(`${arg}.spis: a Delete of the IKE SA carries no SPIs (RFC 7296 §3.11)`);
        return Uint8Array.of(p.protocol, 0, 0, 0);
      }
      if (p.protocol !== IKE_PROTOCOL.AH && p.protocol !== IKE_PROTOCOL.ESP) throw new RangeError(`${arg}.protocol: must be 1 (IKE), 2 (AH) or 3 (ESP), got ${p.protocol}`);
      if (p.spis.length > 0xffff) throw new RangeError(`${arg}.spis: at most 65535 SPIs`);
      p.spis.forEach((s, i) => requireBytes(s, `${arg}.spis[${i}]`, 4, 4));
      return concatBytes([Uint8Array.of(p.protocol, 4), uintBytes(p.spis.length, 2), ...p.spis]);
    }
    case 'V':
    case 'EAP':
      requireBytes(p.data, `${arg}.data`, 0, 0xffff);
      return p.data.slice();
    case 'SK':
      requireUint(p.firstPayload, 0xff, `${arg}.firstPayload`);
      requireBytes(p.body, `${arg}.body`, 0, 0xffff);
      return p.body.slice();
    case 'SKF':
      requireUint(p.firstPayload, 0xff, `${arg}.firstPayload`);
      requireUint(p.fragmentNumber, 0xffff, `${arg}.fragmentNumber`);
      requireUint(p.totalFragments, 0xffff, `${arg}.totalFragments`);
      if (p.fragmentNumber < 1 || p.fragmentNumber > p.totalFragments) throw new RangeError(`${arg}.fragmentNumber: must be in [1, totalFragments] (RFC 7383 §2.5)`);
      if (p.fragmentNumber > 1 && p.firstPayload !== 0) throw new RangeError(`${arg}.firstPayload: must be 0 after the first fragment (RFC 7383 §2.5)`);
      requireBytes(p.body, `${arg}.body`, 0, 0xffff);
      return concatBytes([uintBytes(p.fragmentNumber, 2), uintBytes(p.totalFragments, 2), p.body]);
    case 'CP': {
      if (!Array.isArray(p.attributes)) throw new TypeError(`${arg}.attributes: must be an array`);
      const attrs = p.attributes.map((a, i) => {
        requireUint(a.type, 0x7fff, `${arg}.attributes[${i}].type`);
        requireBytes(a.value, `${arg}.attributes[${i}].value`, 0, 0xffff);
        return concatBytes([uintBytes(a.type, 2), uintBytes(a.value.length, 2), a.value]);
      });
      return concatBytes([fixed4(p.cfgType, `${arg}.cfgType`), ...attrs]);
    }
    case 'unknown':
      requireUint(p.payloadType, 0xff, `${arg}.payloadType`);
      if (p.payloadType === IKE_PAYLOAD.NONE) throw new RangeError(`${arg}.payloadType: 0 means "no next payload" (RFC 7296 §3.2)`);
      if (isKnownPayloadType(p.payloadType)) throw new RangeError(`${arg}.payloadType: ${p.payloadType} is a known type; use its payload kind`);
      requireBytes(p.body, `${arg}.body`, 0, 0xffff);
      return p.body.slice();
    default:
      throw new TypeError(`${arg}.type: unknown payload kind ${String((p as { type: unknown }).type)}`);
  }
}
