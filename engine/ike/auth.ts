/**
 * Pre-shared-key authentication of the IKE SA (RFC 7296 §2.15): the signed octets built from
 * the real IKE_SA_INIT message bytes, the peer's nonce and prf(SK_p, ID'), and
 * AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). Pure computation.
 */

import { constantTimeEqual, readU32 } from '../bytes.js';
import { concatBytes, requireBytes, requireUint } from './codec.js';
import { IKE_HEADER_LENGTH, KEY_PAD_FOR_IKEV2, NONCE_MAX_LENGTH, NONCE_MIN_LENGTH } from './constants.js';
import type { Prf } from './prf.js';

const KEY_PAD = new TextEncoder().encode(KEY_PAD_FOR_IKEV2);

/** The ID payload as it is signed: its type and data (the body less its RESERVED octets). */
export interface IdentityForAuth {
  idType: number;
  data: Uint8Array;
}

/**
 * RestOfInitIDPayload / RestOfRespIDPayload of §2.15: "IDType | RESERVED | InitIDData", i.e.
 * the ID payload body after the generic header (IDi'/IDr').
 *
 * @example
 * restOfIdPayload({ idType: ID_TYPE.FQDN, data: utf8('gw.example') })
 */
export function restOfIdPayload(id: IdentityForAuth): Uint8Array {
  requireUint(id.idType, 0xff, 'id.idType');
  requireBytes(id.data, 'id.data', 0, 0xffff - 8);
  return concatBytes([Uint8Array.of(id.idType, 0, 0, 0), id.data]);
}

/** What the signed octets are built from. */
export interface SignedOctetsInput {
  /**
   * The signer's own IKE_SA_INIT message exactly as sent (RealMessage1 for the initiator,
   * RealMessage2 for the responder), from the first octet of SPIi: without the four-octet
   * non-ESP marker of port 4500 (§2.15: RealIKEHDR = SPIi | SPIr | ... | Length). If the
   * request was sent again (COOKIE, INVALID_KE_PAYLOAD) it is the last one (§2.15).
   */
  realMessage: Uint8Array;
  /** The other side's nonce data, "just the value, not the payload containing it" (§2.15). */
  peerNonce: Uint8Array;
  /** The negotiated PRF. */
  prf: Prf;
  /** SK_pi for the initiator's octets, SK_pr for the responder's. */
  skP: Uint8Array;
  /** The signer's own ID payload (IDi or IDr). */
  id: IdentityForAuth;
}

/**
 * InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI (and the responder's mirror),
 * with MACedIDForX = prf(SK_px, RestOfXIDPayload) (§2.15). Throws RangeError if `realMessage`
 * is not one whole IKE message (its Length field disagrees, e.g. a non-ESP marker left on).
 *
 * @example
 * const octets = signedOctets({ realMessage: sentInitRequest, peerNonce: nr, prf, skP: keys.skPi, id: myId });
 */
export function signedOctets(input: SignedOctetsInput): Uint8Array {
  requireBytes(input.realMessage, 'input.realMessage', IKE_HEADER_LENGTH, 0xffffffff);
  if (readU32(input.realMessage, 24) !== input.realMessage.length) {
    throw new RangeError('input.realMessage: must be the whole IKE_SA_INIT message as sent, starting at SPIi (its Length field disagrees)');
  }
  requireBytes(input.peerNonce, 'input.peerNonce', NONCE_MIN_LENGTH, NONCE_MAX_LENGTH);
  requireBytes(input.skP, 'input.skP', input.prf.preferredKeyLength, input.prf.preferredKeyLength);
  const macedId = input.prf.compute(input.skP, restOfIdPayload(input.id));
  return concatBytes([input.realMessage, input.peerNonce, macedId]);
}

/**
 * AUTH data for a pre-shared key (Auth Method 2, §3.8): prf(prf(Shared Secret, "Key Pad for
 * IKEv2"), <SignedOctets>), the pad being 17 ASCII characters without a terminator (§2.15).
 *
 * @example
 * const auth = { type: 'AUTH', method: AUTH_METHOD.SHARED_KEY_MIC, data: pskAuth(prf, psk, octets) };
 */
export function pskAuth(prf: Prf, sharedSecret: Uint8Array, octets: Uint8Array): Uint8Array {
  requireBytes(sharedSecret, 'sharedSecret', 1, 0xffff);
  requireBytes(octets, 'octets', 1, Number.MAX_SAFE_INTEGER);
  const padded = prf.compute(sharedSecret, KEY_PAD);
  const auth = prf.compute(padded, octets);
  padded.fill(0);
  return auth;
}

/**
 * True when a received AUTH payload's data is the PSK MIC over the peer's signed octets,
 * compared in constant time. A mismatch is AUTHENTICATION_FAILED (§2.21.2), a value here.
 *
 * @example
 * if (!verifyPskAuth(prf, psk, peerOctets, authPayload.data)) return fail('AUTHENTICATION_FAILED');
 */
export function verifyPskAuth(prf: Prf, sharedSecret: Uint8Array, octets: Uint8Array, received: Uint8Array): boolean {
  if (!(received instanceof Uint8Array)) return false;
  return constantTimeEqual(pskAuth(prf, sharedSecret, octets), received);
}
