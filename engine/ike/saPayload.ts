/**
 * The Security Association payload body (RFC 7296 §3.3): proposals (§3.3.1), transforms
 * (§3.3.2) and transform attributes (§3.3.5). §3.3: "When parsing an SA, an implementation
 * MUST check that the total Payload Length is consistent with the payload's internal lengths
 * and counts" — every length and count below is checked against the others.
 */

import { readU16 } from '../bytes.js';
import { concatBytes, fail, requireBytes, requireUint, uintBytes } from './codec.js';
import { ATTRIBUTE_FORMAT_TV, IKE_PROTOCOL, LAST_SUBSTRUC, TRANSFORM_ATTRIBUTE } from './constants.js';
import type { IkeResult, Proposal, Transform, TransformAttribute } from './types.js';

const PROPOSAL_HEADER = 8;
const TRANSFORM_HEADER = 8;

/** §3.3.1: SPI Size is 0 (initial IKE SA) or 8 for IKE, 4 for ESP and AH. */
function spiSizeAllowed(protocol: number, size: number): boolean {
  if (protocol === IKE_PROTOCOL.IKE) return size === 0 || size === 8;
  if (protocol === IKE_PROTOCOL.AH || protocol === IKE_PROTOCOL.ESP) return size === 4;
  return true;
}

function decodeAttributes(b: Uint8Array, at: number): IkeResult<{ attributes: TransformAttribute[] }> {
  const attributes: TransformAttribute[] = [];
  const seen = new Set<number>();
  for (let off = 0; off < b.length; ) {
    if (b.length - off < 4) return fail('truncated', at + off, 'transform attribute shorter than 4 octets');
    const word = readU16(b, off);
    const type = word & 0x7fff;
    // §3.3.2: "A transform MUST NOT have multiple attributes of the same type."
    if (seen.has(type)) return fail('malformed', at + off, `transform attribute ${type} repeated`);
    seen.add(type);
    if (word & ATTRIBUTE_FORMAT_TV) {
      attributes.push({ type, value: readU16(b, off + 2) });
      off += 4;
      continue;
    }
    // §3.3.5: Key Length is a TV attribute; fixed-length attributes "MUST NOT be encoded using the
    // variable-length encoding unless that length exceeds two bytes".
    if (type === TRANSFORM_ATTRIBUTE.KEY_LENGTH) return fail('malformed', at + off, 'Key Length attribute in TLV format');
    const length = readU16(b, off + 2);
    if (off + 4 + length > b.length) return fail('truncated', at + off, `TLV attribute of ${length} octets overruns its transform`);
    attributes.push({ type, value: b.subarray(off + 4, off + 4 + length) });
    off += 4 + length;
  }
  return { ok: true, attributes };
}

function decodeTransforms(b: Uint8Array, at: number, count: number): IkeResult<{ transforms: Transform[] }> {
  const transforms: Transform[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (b.length - off < TRANSFORM_HEADER) return fail('truncated', at + off, `transform ${i + 1} of ${count} missing or shorter than 8 octets`);
    const last = b[off]!;
    const length = readU16(b, off + 2);
    const isLast = i === count - 1;
    // §3.3.2 Last Substruc: 0 for the last transform, 3 when more follow.
    if (last !== (isLast ? LAST_SUBSTRUC.LAST : LAST_SUBSTRUC.MORE_TRANSFORMS)) {
      return fail('malformed', at + off, `transform ${i + 1} of ${count} has Last Substruc ${last}`);
    }
    if (length < TRANSFORM_HEADER) return fail('malformed', at + off + 2, `Transform Length ${length} < 8`);
    if (off + length > b.length) return fail('truncated', at + off + 2, `Transform Length ${length} overruns its proposal`);
    const attrs = decodeAttributes(b.subarray(off + TRANSFORM_HEADER, off + length), at + off + TRANSFORM_HEADER);
    if (!attrs.ok) return attrs;
    transforms.push({ type: b[off + 4]!, id: readU16(b, off + 6), attributes: attrs.attributes });
    off += length;
  }
  if (off !== b.length) return fail('malformed', at + off, `${b.length - off} octets after the last transform of the proposal`);
  return { ok: true, transforms };
}

/**
 * Decodes an SA payload body (after the generic header). `at` is the body's offset in the
 * message, for failure positions. Never throws; byte fields are views into `body`.
 *
 * @example
 * const r = decodeSaBody(body, 32);
 * if (r.ok) console.log(r.proposals[0]!.transforms.length);
 */
export function decodeSaBody(body: Uint8Array, at: number): IkeResult<{ proposals: Proposal[] }> {
  // §3.3: "Proposals (variable) - One or more proposal substructures."
  if (body.length === 0) return fail('malformed', at, 'SA payload without proposals');
  const proposals: Proposal[] = [];
  for (let off = 0; off < body.length; ) {
    if (body.length - off < PROPOSAL_HEADER) return fail('truncated', at + off, 'proposal shorter than its 8-octet header');
    const last = body[off]!;
    const length = readU16(body, off + 2);
    if (length < PROPOSAL_HEADER) return fail('malformed', at + off + 2, `Proposal Length ${length} < 8`);
    if (off + length > body.length) return fail('truncated', at + off + 2, `Proposal Length ${length} overruns the SA payload`);
    const isLast = off + length === body.length;
    // §3.3.1 Last Substruc: 0 if this was the last proposal, 2 if there are more.
    if (last !== (isLast ? LAST_SUBSTRUC.LAST : LAST_SUBSTRUC.MORE_PROPOSALS)) {
      return fail('malformed', at + off, `proposal Last Substruc ${last} disagrees with the payload length`);
    }
    const protocol = body[off + 5]!;
    const spiSize = body[off + 6]!;
    const count = body[off + 7]!;
    if (!spiSizeAllowed(protocol, spiSize)) return fail('malformed', at + off + 6, `SPI Size ${spiSize} for protocol ${protocol}`);
    if (PROPOSAL_HEADER + spiSize > length) return fail('malformed', at + off + 6, `SPI Size ${spiSize} overruns Proposal Length ${length}`);
    // §3.3.1: "Transforms (variable) - One or more transform substructures."
    if (count === 0) return fail('malformed', at + off + 7, 'proposal with no transforms');
    const start = off + PROPOSAL_HEADER + spiSize;
    const t = decodeTransforms(body.subarray(start, off + length), at + start, count);
    if (!t.ok) return t;
    proposals.push({ number: body[off + 4]!, protocol, spi: body.subarray(off + PROPOSAL_HEADER, start), transforms: t.transforms });
    off += length;
  }
  return { ok: true, proposals };
}

function encodeTransform(t: Transform, isLast: boolean, arg: string): Uint8Array {
  requireUint(t.type, 0xff, `${arg}.type`);
  requireUint(t.id, 0xffff, `${arg}.id`);
  if (!Array.isArray(t.attributes)) throw new TypeError(`${arg}.attributes: must be an array`);
  const seen = new Set<number>();
  const parts = t.attributes.map((a, i) => {
    const aArg = `${arg}.attributes[${i}]`;
    requireUint(a.type, 0x7fff, `${aArg}.type`);
    if (seen.has(a.type)) throw new RangeError(`${aArg}.type: attribute ${a.type} repeated (RFC 7296 §3.3.2)`);
    seen.add(a.type);
    if (typeof a.value === 'number') {
      requireUint(a.value, 0xffff, `${aArg}.value`);
      return concatBytes([uintBytes(ATTRIBUTE_FORMAT_TV | a.type, 2), uintBytes(a.value, 2)]);
    }
    if (a.type === TRANSFORM_ATTRIBUTE.KEY_LENGTH) throw new RangeError(`${aArg}.value: Key Length is a TV attribute, give a number (RFC 7296 §3.3.5)`);
    requireBytes(a.value, `${aArg}.value`, 0, 0xffff);
    return concatBytes([uintBytes(a.type, 2), uintBytes(a.value.length, 2), a.value]);
  });
  const attrs = concatBytes(parts);
  const length = TRANSFORM_HEADER + attrs.length;
  if (length > 0xffff) throw new RangeError(`${arg}: transform of ${length} octets exceeds 65535`);
  const head = Uint8Array.of(isLast ? LAST_SUBSTRUC.LAST : LAST_SUBSTRUC.MORE_TRANSFORMS, 0, length >> 8, length & 0xff, t.type, 0, t.id >> 8, t.id & 0xff);
  return concatBytes([head, attrs]);
}

/**
 * Encodes an SA payload body. Throws TypeError/RangeError naming the field on misuse (no
 * proposals, an SPI of the wrong size for its protocol, no transforms, a repeated attribute).
 *
 * @example
 * const body = encodeSaBody([{ number: 1, protocol: IKE_PROTOCOL.ESP, spi, transforms }]);
 */
export function encodeSaBody(proposals: Proposal[], argument = 'proposals'): Uint8Array {
  if (!Array.isArray(proposals) || proposals.length === 0) throw new RangeError(`${argument}: an SA payload needs at least one proposal`);
  const parts = proposals.map((p, i) => {
    const arg = `${argument}[${i}]`;
    requireUint(p.number, 0xff, `${arg}.number`);
    requireUint(p.protocol, 0xff, `${arg}.protocol`);
    requireBytes(p.spi, `${arg}.spi`, 0, 0xff);
    if (!spiSizeAllowed(p.protocol, p.spi.length)) throw new RangeError(`${arg}.spi: ${p.spi.length} octets is not an SPI size for protocol ${p.protocol} (RFC 7296 §3.3.1)`);
    if (!Array.isArray(p.transforms) || p.transforms.length === 0 || p.transforms.length > 0xff) {
      throw new RangeError(`${arg}.transforms: a proposal needs 1 to 255 transforms`);
    }
    const transforms = concatBytes(p.transforms.map((t, j) => encodeTransform(t, j === p.transforms.length - 1, `${arg}.transforms[${j}]`)));
    const length = PROPOSAL_HEADER + p.spi.length + transforms.length;
    if (length > 0xffff) throw new RangeError(`${arg}: proposal of ${length} octets exceeds 65535`);
    const last = i === proposals.length - 1 ? LAST_SUBSTRUC.LAST : LAST_SUBSTRUC.MORE_PROPOSALS;
    const head = Uint8Array.of(last, 0, length >> 8, length & 0xff, p.number, p.protocol, p.spi.length, p.transforms.length);
    return concatBytes([head, p.spi, transforms]);
  });
  return concatBytes(parts);
}

/**
 * The Key Length attribute of a transform in bits (§3.3.5), or undefined without one.
 *
 * @example
 * transformKeyLength({ type: 1, id: ENCR.AES_GCM_16, attributes: [{ type: 14, value: 256 }] }) // 256
 */
export function transformKeyLength(t: Transform): number | undefined {
  const a = t.attributes.find((x) => x.type === TRANSFORM_ATTRIBUTE.KEY_LENGTH);
  return typeof a?.value === 'number' ? a.value : undefined;
}
