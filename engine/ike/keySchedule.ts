/**
 * IKEv2 key derivation: SKEYSEED and the seven SK_* keys of an IKE SA (RFC 7296 §2.14), the
 * rekeyed SKEYSEED (§2.18), and KEYMAT for Child SAs with the order ESP and AH take their keys
 * in (§2.17). Pure: nonces, SPIs and the Diffie-Hellman shared secret are arguments. Key
 * material is returned in fresh arrays the caller owns (and should wipe when done).
 */

import type { CryptoBackend } from '../crypto/backend.js';
import { encrSpec, integSpec } from '../crypto/suites.js';
import { INTEG } from '../crypto/transformIds.js';
import type { CryptoBackendName, EspKeys } from '../crypto/types.js';
import { concatBytes, requireBytes } from './codec.js';
import { IKE_SPI_LENGTH, NONCE_MAX_LENGTH, NONCE_MIN_LENGTH, type PrfId } from './constants.js';
import { createPrf, prfSpec } from './prf.js';

/** The transforms an IKE SA negotiated that decide its key lengths (§3.3.2). */
export interface IkeSaTransforms {
  encr: number;
  /** Key Length attribute in bits, for AES. */
  encrKeyBits?: number;
  /** `INTEG.NONE` with a combined mode (RFC 5282 §8). */
  integ: number;
  prf: PrfId;
}

/** The SKEYSEED and the seven keys of §2.14, each in its own array. */
export interface IkeSaKeys {
  skeyseed: Uint8Array;
  skD: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

/**
 * Octets of each IKE SA key: SK_d, SK_pi, SK_pr are the PRF's preferred key length (§2.14);
 * SK_e is the cipher key plus its salt for GCM (RFC 5282 §7.1) and ChaCha20-Poly1305 (RFC 7634
 * §3); SK_a is the integrity key, none with a combined mode.
 *
 * @example
 * ikeSaKeyLengths({ encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE, prf: PRF_ID.HMAC_SHA2_256 })
 * // { prfKey: 32, integKey: 0, encKey: 36 }
 */
export function ikeSaKeyLengths(t: IkeSaTransforms): { prfKey: number; integKey: number; encKey: number } {
  const { spec, keyBits } = encrSpec(t.encr, t.encrKeyBits);
  const integKey = t.integ === INTEG.NONE ? 0 : integSpec(t.integ).keyLength;
  if ((spec.combinedIcv !== undefined) !== (t.integ === INTEG.NONE)) {
    throw new RangeError(`integ: ${spec.combinedIcv !== undefined ? 'a combined mode takes no integrity transform' : 'a non-combined cipher needs one'} (RFC 7296 §3.3.3, RFC 5282 §8)`);
  }
  return { prfKey: prfSpec(t.prf).outputLength, integKey, encKey: keyBits / 8 + spec.saltLength };
}

function requireNonce(nonce: Uint8Array, argument: string): void {
  requireBytes(nonce, argument, NONCE_MIN_LENGTH, NONCE_MAX_LENGTH); // §3.9
}

function splitSkKeys(skeyseed: Uint8Array, stream: Uint8Array, l: { prfKey: number; integKey: number; encKey: number }): IkeSaKeys {
  let at = 0;
  const take = (n: number) => stream.slice(at, (at += n));
  // §2.14: {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} "taken in order from the generated bits of the prf+".
  return {
    skeyseed,
    skD: take(l.prfKey),
    skAi: take(l.integKey),
    skAr: take(l.integKey),
    skEi: take(l.encKey),
    skEr: take(l.encKey),
    skPi: take(l.prfKey),
    skPr: take(l.prfKey),
  };
}

/** What `deriveIkeSaKeys` needs from the IKE_SA_INIT exchange. */
export interface IkeSaKeyInput {
  transforms: IkeSaTransforms;
  /** Nonce data, "stripped of any headers" (§2.14). */
  ni: Uint8Array;
  nr: Uint8Array;
  /** g^ir as `dhSharedSecret` returns it (MODP: padded to the modulus length, §2.14). */
  sharedSecret: Uint8Array;
  spiI: Uint8Array;
  spiR: Uint8Array;
}

function expandSkKeys(input: IkeSaKeyInput, skeyseed: Uint8Array, backend: CryptoBackend | CryptoBackendName): IkeSaKeys {
  requireBytes(input.spiI, 'input.spiI', IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  requireBytes(input.spiR, 'input.spiR', IKE_SPI_LENGTH, IKE_SPI_LENGTH);
  const lengths = ikeSaKeyLengths(input.transforms);
  const total = 3 * lengths.prfKey + 2 * lengths.integKey + 2 * lengths.encKey;
  const prf = createPrf(input.transforms.prf, backend);
  // §2.14: prf+(SKEYSEED, Ni | Nr | SPIi | SPIr), with the new IKE SA's PRF (§2.18 for a rekey).
  const stream = prf.plus(skeyseed, [input.ni, input.nr, input.spiI, input.spiR], total);
  const keys = splitSkKeys(skeyseed, stream, lengths);
  stream.fill(0);
  return keys;
}

/**
 * §2.14: SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
 * = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). Throws RangeError naming the argument on misuse.
 *
 * @example
 * const keys = deriveIkeSaKeys({ transforms, ni, nr, sharedSecret, spiI, spiR });
 * const out = createSkCipher(transforms, { encKey: keys.skEi, integKey: keys.skAi });
 */
export function deriveIkeSaKeys(input: IkeSaKeyInput, backend: CryptoBackend | CryptoBackendName = 'node'): IkeSaKeys {
  requireNonce(input.ni, 'input.ni');
  requireNonce(input.nr, 'input.nr');
  requireBytes(input.sharedSecret, 'input.sharedSecret', 1, 1024);
  const prf = createPrf(input.transforms.prf, backend);
  const skeyseed = prf.compute(concatBytes([input.ni, input.nr]), input.sharedSecret);
  return expandSkKeys(input, skeyseed, backend);
}

/** What `deriveRekeyedIkeSaKeys` needs: the old IKE SA's PRF and SK_d, the new exchange's values. */
export interface RekeyedIkeSaKeyInput extends IkeSaKeyInput {
  oldPrf: PrfId;
  oldSkD: Uint8Array;
}

/**
 * §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old IKE SA's PRF ("it is
 * the old IKE SA's PRF that is used to generate SKEYSEED"), then the SK_* keys as in §2.14 with
 * the new SA's SPIs, nonces and PRF. A new Diffie-Hellman exchange is mandatory here (§2.18).
 *
 * @example
 * const next = deriveRekeyedIkeSaKeys({ oldPrf, oldSkD: keys.skD, transforms, ni, nr, sharedSecret, spiI, spiR });
 */
export function deriveRekeyedIkeSaKeys(input: RekeyedIkeSaKeyInput, backend: CryptoBackend | CryptoBackendName = 'node'): IkeSaKeys {
  requireNonce(input.ni, 'input.ni');
  requireNonce(input.nr, 'input.nr');
  requireBytes(input.sharedSecret, 'input.sharedSecret', 1, 1024);
  const old = createPrf(input.oldPrf, backend);
  requireBytes(input.oldSkD, 'input.oldSkD', old.preferredKeyLength, old.preferredKeyLength);
  const skeyseed = old.compute(input.oldSkD, [input.sharedSecret, input.ni, input.nr]);
  return expandSkKeys(input, skeyseed, backend);
}

/** A Child SA's transforms: ESP (encryption, maybe integrity) or AH (integrity). */
export type ChildSaTransforms =
  | { protocol: 'esp'; encr: number; encrKeyBits?: number; integ: number }
  | { protocol: 'ah'; integ: number };

/** Keys of one Child SA direction; `encKey` is empty for AH and ENCR_NULL. */
export type ChildSaDirectionKeys = EspKeys;

/** §2.17: the SA carrying initiator → responder traffic takes its keys first. */
export interface ChildSaKeys {
  initiatorToResponder: ChildSaDirectionKeys;
  responderToInitiator: ChildSaDirectionKeys;
}

/** What `deriveChildSaKeys` needs. */
export interface ChildSaKeyInput {
  prf: PrfId;
  skD: Uint8Array;
  /** IKE_SA_INIT nonces for the first Child SA, the CREATE_CHILD_SA ones after (§2.17). */
  ni: Uint8Array;
  nr: Uint8Array;
  /** g^ir (new) of a CREATE_CHILD_SA with a KE exchange (PFS), else omitted. */
  sharedSecret?: Uint8Array;
  transforms: ChildSaTransforms;
}

/**
 * §2.17: KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with PFS. Order:
 * "All keys for SAs carrying data from the initiator to the responder are taken before SAs going
 * from the responder to the initiator", and within an SA "the encryption key (if any) MUST be
 * taken from the first bits and the integrity key (if any) MUST be taken from the remaining
 * bits". Encryption keys include the salt for GCM/GMAC/CTR/ChaCha20 (as `EspKeys.encKey` wants).
 *
 * @example
 * const { initiatorToResponder, responderToInitiator } = deriveChildSaKeys({ prf, skD, ni, nr,
 *   transforms: { protocol: 'esp', encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE } });
 */
export function deriveChildSaKeys(input: ChildSaKeyInput, backend: CryptoBackend | CryptoBackendName = 'node'): ChildSaKeys {
  requireNonce(input.ni, 'input.ni');
  requireNonce(input.nr, 'input.nr');
  const prf = createPrf(input.prf, backend);
  requireBytes(input.skD, 'input.skD', prf.preferredKeyLength, prf.preferredKeyLength);
  const t = input.transforms;
  let encKey = 0;
  if (t.protocol === 'esp') {
    const { spec, keyBits } = encrSpec(t.encr, t.encrKeyBits);
    encKey = keyBits / 8 + spec.saltLength;
  } else if (t.protocol !== 'ah') {
    throw new RangeError(`input.transforms.protocol: must be 'esp' or 'ah'`);
  }
  const integKey = t.integ === INTEG.NONE ? 0 : integSpec(t.integ).keyLength;
  if (t.protocol === 'ah' && integKey === 0) throw new RangeError('input.transforms.integ: AH needs an integrity transform');
  const seed = input.sharedSecret === undefined ? [input.ni, input.nr] : [input.sharedSecret, input.ni, input.nr];
  if (input.sharedSecret !== undefined) requireBytes(input.sharedSecret, 'input.sharedSecret', 1, 1024);
  const keymat = prf.plus(input.skD, seed, 2 * (encKey + integKey));
  let at = 0;
  const take = (n: number) => keymat.slice(at, (at += n));
  const direction = (): ChildSaDirectionKeys => {
    const enc = take(encKey);
    return integKey === 0 ? { encKey: enc } : { encKey: enc, integKey: take(integKey) };
  };
  const initiatorToResponder = direction();
  const responderToInitiator = direction();
  keymat.fill(0);
  return { initiatorToResponder, responderToInitiator };
}
