/**
 * IKEv2 (RFC 7296), the pure part: the message codec (header, payloads, chains, whole
 * messages) and the cryptography (PRF and prf+, key schedule, Diffie-Hellman, the SK payload,
 * PSK AUTH, NAT detection). No I/O, no clock, no randomness: nonces, private keys and IVs are
 * arguments. The exchanges themselves (state machines) build on this.
 */
export * from './constants.js';
export type * from './types.js';
export { decodeIkeHeader, encodeIkeHeader, validateIkeHeader, type DecodedIkeHeader } from './header.js';
export { decodeSaBody, encodeSaBody, transformKeyLength } from './saPayload.js';
export { decodeTsBody, encodeTsBody, isAddressRange } from './tsPayload.js';
export { decodePayloadBody, encodePayloadBody, payloadTypeOf, isKnownPayloadType } from './payloads.js';
export { decodePayloadChain, encodePayloadChain, type ChainContext, type EncodeChainOptions } from './payloadChain.js';
export { decodeIkeMessage, encodeIkeMessage, notifyForDecodeFailure } from './message.js';
export { createPrf, prfSpec, PRF_SPECS, PRF_PLUS_MAX_BLOCKS, type Prf, type PrfSpec } from './prf.js';
export {
  ikeSaKeyLengths,
  deriveIkeSaKeys,
  deriveRekeyedIkeSaKeys,
  deriveChildSaKeys,
  type IkeSaTransforms,
  type IkeSaKeys,
  type IkeSaKeyInput,
  type RekeyedIkeSaKeyInput,
  type ChildSaTransforms,
  type ChildSaKeys,
  type ChildSaDirectionKeys,
  type ChildSaKeyInput,
} from './keySchedule.js';
export {
  MODP_2048_PRIME,
  MODP_2048_GENERATOR,
  DH_GROUP_SPECS,
  dhGroupSpec,
  isValidDhPrivateKey,
  dhKeyPair,
  checkDhPublicValue,
  dhSharedSecret,
  type DhGroupSpec,
  type DhKeyPair,
  type DhFailureReason,
  type DhResult,
} from './dh.js';
export {
  createSkCipher,
  protectIkeMessage,
  unprotectIkeMessage,
  type SkTransforms,
  type SkKeys,
  type SkCipher,
  type ProtectInput,
  type UnprotectedMessage,
} from './sk.js';
export { restOfIdPayload, signedOctets, pskAuth, verifyPskAuth, type IdentityForAuth, type SignedOctetsInput } from './auth.js';
export { natDetectionHash, natDetectionNotifies, detectNat, type Endpoint, type NatdSpis, type NatDetection } from './natd.js';
