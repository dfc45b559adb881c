/**
 * SA payload proposals for IKEv2 (RFC 7296 §3.3): ours as the initiator offers them, and the
 * responder's choice (§2.7: "the responder MUST choose a single suite"; §3.3.6: one transform
 * of each type, the proposal number echoed). IKE SA proposals come from the policy file in
 * strongSwan's syntax (`aes256gcm16-prfsha256-curve25519`, `aes256-sha256-modp2048`); CHILD SA
 * proposals are the policy's ESP suites.
 */
import { ENCR, INTEG, type EncrId, type IntegId } from '../../engine/crypto/transformIds.js';
import type { EspSuiteSpec } from '../../engine/crypto/types.js';
import { DH_GROUP, ESN_ID, IKE_PROTOCOL, PRF_ID, TRANSFORM_ATTRIBUTE, TRANSFORM_TYPE, type DhGroupId, type PrfId } from '../../engine/ike/constants.js';
import type { Proposal, SaPayload, Transform } from '../../engine/ike/types.js';

/** One IKE SA suite: encryption, integrity (`INTEG.NONE` with AEAD), PRF and DH group. */
export interface IkeSuite {
  encr: EncrId;
  encrKeyBits?: number;
  integ: IntegId;
  prf: PrfId;
  dh: DhGroupId;
}

const ENCR_NAMES: Record<string, { encr: EncrId; bits?: number; aead: boolean }> = {
  aes128: { encr: ENCR.AES_CBC, bits: 128, aead: false },
  aes192: { encr: ENCR.AES_CBC, bits: 192, aead: false },
  aes256: { encr: ENCR.AES_CBC, bits: 256, aead: false },
  aes128gcm16: { encr: ENCR.AES_GCM_16, bits: 128, aead: true },
  aes192gcm16: { encr: ENCR.AES_GCM_16, bits: 192, aead: true },
  aes256gcm16: { encr: ENCR.AES_GCM_16, bits: 256, aead: true },
  chacha20poly1305: { encr: ENCR.CHACHA20_POLY1305, aead: true },
};
const INTEG_NAMES: Record<string, { integ: IntegId; prf: PrfId }> = {
  sha1: { integ: INTEG.HMAC_SHA1_96, prf: PRF_ID.HMAC_SHA1 },
  sha256: { integ: INTEG.HMAC_SHA2_256_128, prf: PRF_ID.HMAC_SHA2_256 },
  sha384: { integ: INTEG.HMAC_SHA2_384_192, prf: PRF_ID.HMAC_SHA2_384 },
  sha512: { integ: INTEG.HMAC_SHA2_512_256, prf: PRF_ID.HMAC_SHA2_512 },
};
const PRF_NAMES: Record<string, PrfId> = { prfsha1: PRF_ID.HMAC_SHA1, prfsha256: PRF_ID.HMAC_SHA2_256, prfsha384: PRF_ID.HMAC_SHA2_384, prfsha512: PRF_ID.HMAC_SHA2_512 };
const DH_NAMES: Record<string, DhGroupId> = { modp2048: DH_GROUP.MODP_2048, ecp256: DH_GROUP.ECP_256, curve25519: DH_GROUP.CURVE25519, x25519: DH_GROUP.CURVE25519 };

/**
 * The IKE suites a proposal string names (one per DH group it lists), or a reason it names
 * none we implement. Without a `prf…` keyword the PRF follows the integrity algorithm, as in
 * strongSwan. Groups we do not implement (modp3072, ecp384, ...) are left out; a proposal left
 * with no group is refused.
 *
 * @example
 * ikeSuitesOf('aes128gcm16-prfsha256-curve25519') // [{ encr: 20, encrKeyBits: 128, integ: 0, prf: 5, dh: 31 }]
 */
export function ikeSuitesOf(proposal: string): IkeSuite[] | { problem: string } {
  const [encrName, ...rest] = proposal.split('-');
  const encr = ENCR_NAMES[encrName ?? ''];
  if (!encr) return { problem: `encryption '${encrName}' is not implemented for IKE (aes128/192/256, aes*gcm16, chacha20poly1305)` };
  let integ: IntegId = INTEG.NONE;
  let integPrf: PrfId | undefined;
  let explicitPrf: PrfId | undefined;
  const groups: DhGroupId[] = [];
  for (const word of rest) {
    if (INTEG_NAMES[word]) {
      integ = INTEG_NAMES[word].integ;
      integPrf ??= INTEG_NAMES[word].prf;
    } else if (PRF_NAMES[word] !== undefined) explicitPrf ??= PRF_NAMES[word];
    else if (DH_NAMES[word] !== undefined) groups.push(DH_NAMES[word]);
  }
  const prf = explicitPrf ?? integPrf;
  if (encr.aead !== (integ === INTEG.NONE)) return { problem: encr.aead ? 'a combined-mode cipher takes no integrity algorithm' : 'an integrity algorithm is needed' };
  if (prf === undefined) return { problem: 'no PRF' };
  if (groups.length === 0) return { problem: 'no key exchange group we implement (modp2048, ecp256, curve25519)' };
  return groups.map((dh) => ({ encr: encr.encr, ...(encr.bits !== undefined && encr.encr !== ENCR.CHACHA20_POLY1305 ? { encrKeyBits: encr.bits } : {}), integ, prf, dh }));
}

const keyLength = (bits: number | undefined) => (bits === undefined ? [] : [{ type: TRANSFORM_ATTRIBUTE.KEY_LENGTH, value: bits }]);
const encrTransform = (encr: number, bits: number | undefined): Transform => ({ type: TRANSFORM_TYPE.ENCR, id: encr, attributes: keyLength(encr === ENCR.CHACHA20_POLY1305 ? undefined : bits) });

/** The transforms of one IKE suite, in the order of §3.3.2 (ENCR, PRF, INTEG, DH). */
function ikeTransforms(s: IkeSuite): Transform[] {
  return [
    encrTransform(s.encr, s.encrKeyBits),
    { type: TRANSFORM_TYPE.PRF, id: s.prf, attributes: [] },
    ...(s.integ !== INTEG.NONE ? [{ type: TRANSFORM_TYPE.INTEG, id: s.integ, attributes: [] }] : []),
    { type: TRANSFORM_TYPE.DH, id: s.dh, attributes: [] },
  ];
}

/**
 * Our IKE SA offer: one proposal per suite, numbered from 1 (§3.3.1). `spi` is empty in
 * IKE_SA_INIT and our new 8-octet SPI in an IKE SA rekey (§3.3.1).
 *
 * @example
 * const sa = ikeSaPayload(suites, new Uint8Array(0));
 */
export function ikeSaPayload(suites: readonly IkeSuite[], spi: Uint8Array): SaPayload {
  return { type: 'SA', proposals: suites.map((s, i) => ({ number: i + 1, protocol: IKE_PROTOCOL.IKE, spi, transforms: ikeTransforms(s) })) };
}

/** A CHILD SA suite as negotiated: the ESP suite, ESN, and a DH group when PFS is used. */
export interface ChildSuite extends EspSuiteSpec {
  esn: boolean;
  dh?: DhGroupId;
}

function childTransforms(s: ChildSuite): Transform[] {
  return [
    encrTransform(s.encr, s.encrKeyBits),
    ...(s.integ !== INTEG.NONE ? [{ type: TRANSFORM_TYPE.INTEG, id: s.integ, attributes: [] }] : []),
    ...(s.dh !== undefined ? [{ type: TRANSFORM_TYPE.DH, id: s.dh, attributes: [] }] : []),
    { type: TRANSFORM_TYPE.ESN, id: s.esn ? ESN_ID.ESN : ESN_ID.NONE, attributes: [] },
  ];
}

/**
 * Our CHILD SA offer: ESP proposals with our inbound SPI (§3.3.1: 4 octets for ESP).
 *
 * @example
 * const sa = childSaPayload([{ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE, esn: false }], spiBytes);
 */
export function childSaPayload(suites: readonly ChildSuite[], spi: Uint8Array): SaPayload {
  return { type: 'SA', proposals: suites.map((s, i) => ({ number: i + 1, protocol: IKE_PROTOCOL.ESP, spi, transforms: childTransforms(s) })) };
}

const keyBitsOf = (t: Transform): number | undefined => {
  const a = t.attributes.find((x) => x.type === TRANSFORM_ATTRIBUTE.KEY_LENGTH);
  return typeof a?.value === 'number' ? a.value : undefined;
};
const has = (p: Proposal, type: number, id: number, bits?: number) =>
  p.transforms.some((t) => t.type === type && t.id === id && (type !== TRANSFORM_TYPE.ENCR || keyBitsOf(t) === bits));
const typesIn = (p: Proposal) => new Set(p.transforms.map((t) => t.type));

/**
 * The responder's choice among the initiator's IKE proposals (§2.7): the first received
 * proposal that offers every transform of one of our suites, and no transform type our suite
 * lacks (an integrity transform with AEAD, §3.3). Returns the one-proposal reply and the suite,
 * or undefined: NO_PROPOSAL_CHOSEN.
 *
 * @example
 * const chosen = chooseIkeProposal(received, ours); if (!chosen) reply(NO_PROPOSAL_CHOSEN);
 */
export function chooseIkeProposal(received: SaPayload, ours: readonly IkeSuite[], spi: Uint8Array = new Uint8Array(0)): { reply: SaPayload; suite: IkeSuite; peerSpi: Uint8Array } | undefined {
  for (const p of received.proposals) {
    if (p.protocol !== IKE_PROTOCOL.IKE) continue;
    for (const s of ours) {
      if (!has(p, TRANSFORM_TYPE.ENCR, s.encr, s.encr === ENCR.CHACHA20_POLY1305 ? undefined : s.encrKeyBits) || !has(p, TRANSFORM_TYPE.PRF, s.prf) || !has(p, TRANSFORM_TYPE.DH, s.dh)) continue;
      if (s.integ !== INTEG.NONE ? !has(p, TRANSFORM_TYPE.INTEG, s.integ) : typesIn(p).has(TRANSFORM_TYPE.INTEG) && !has(p, TRANSFORM_TYPE.INTEG, INTEG.NONE)) continue;
      return { reply: { type: 'SA', proposals: [{ number: p.number, protocol: IKE_PROTOCOL.IKE, spi, transforms: ikeTransforms(s) }] }, suite: s, peerSpi: p.spi };
    }
  }
  return undefined;
}

/**
 * The same for CHILD SA proposals (ESP): the first received proposal carrying one of our
 * suites, with its ESN choice and the DH group when `dh` is asked (PFS in CREATE_CHILD_SA).
 * `peerSpi` is the initiator's inbound SPI from the chosen proposal.
 *
 * @example
 * const chosen = chooseChildProposal(received, suites, { esn: false }, mySpi);
 */
export function chooseChildProposal(received: SaPayload, ours: readonly EspSuiteSpec[], options: { esn: boolean; dh?: DhGroupId }, spi: Uint8Array): { reply: SaPayload; suite: ChildSuite; peerSpi: Uint8Array } | undefined {
  for (const p of received.proposals) {
    if (p.protocol !== IKE_PROTOCOL.ESP || p.spi.length !== 4) continue;
    for (const s of ours) {
      if (!has(p, TRANSFORM_TYPE.ENCR, s.encr, s.encr === ENCR.CHACHA20_POLY1305 ? undefined : s.encrKeyBits)) continue;
      if (s.integ !== INTEG.NONE ? !has(p, TRANSFORM_TYPE.INTEG, s.integ) : typesIn(p).has(TRANSFORM_TYPE.INTEG) && !has(p, TRANSFORM_TYPE.INTEG, INTEG.NONE)) continue;
      // ESN: take what we want if offered, else what is offered (§3.3.2: ESN is mandatory in ESP proposals).
      const esn = has(p, TRANSFORM_TYPE.ESN, options.esn ? ESN_ID.ESN : ESN_ID.NONE) ? options.esn : has(p, TRANSFORM_TYPE.ESN, ESN_ID.NONE) ? false : has(p, TRANSFORM_TYPE.ESN, ESN_ID.ESN);
      if (options.dh !== undefined && !has(p, TRANSFORM_TYPE.DH, options.dh)) continue;
      if (options.dh === undefined && typesIn(p).has(TRANSFORM_TYPE.DH) && !has(p, TRANSFORM_TYPE.DH, DH_GROUP.NONE)) continue;
      const suite: ChildSuite = { encr: s.encr, ...(s.encrKeyBits !== undefined ? { encrKeyBits: s.encrKeyBits } : {}), integ: s.integ, esn, ...(options.dh !== undefined ? { dh: options.dh } : {}) };
      return { reply: { type: 'SA', proposals: [{ number: p.number, protocol: IKE_PROTOCOL.ESP, spi, transforms: childTransforms(suite) }] }, suite, peerSpi: p.spi };
    }
  }
  return undefined;
}

/**
 * The initiator reads the responder's choice: exactly one proposal, one we offered, with one
 * transform of each type (§3.3.6). Returns undefined for anything else (a protocol error).
 *
 * @example
 * const suite = acceptedIkeSuite(response, offered);
 */
export function acceptedIkeSuite(response: SaPayload, offered: readonly IkeSuite[]): { suite: IkeSuite; spi: Uint8Array } | undefined {
  if (response.proposals.length !== 1) return undefined;
  const p = response.proposals[0]!;
  const chosen = chooseIkeProposal({ type: 'SA', proposals: [p] }, offered);
  if (!chosen || p.transforms.length !== ikeTransforms(chosen.suite).length) return undefined;
  return { suite: chosen.suite, spi: p.spi };
}

/**
 * The same for a CHILD SA response: the suite and the responder's inbound SPI.
 *
 * @example
 * const accepted = acceptedChildSuite(response, offered, { esn: false });
 */
export function acceptedChildSuite(response: SaPayload, offered: readonly EspSuiteSpec[], options: { esn: boolean; dh?: DhGroupId }): { suite: ChildSuite; spi: Uint8Array } | undefined {
  if (response.proposals.length !== 1) return undefined;
  const p = response.proposals[0]!;
  const chosen = chooseChildProposal({ type: 'SA', proposals: [p] }, offered, options, p.spi);
  if (!chosen || p.transforms.length !== childTransforms(chosen.suite).length) return undefined;
  return { suite: chosen.suite, spi: p.spi };
}
