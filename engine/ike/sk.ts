/**
 * The Encrypted payload, SK {...} (RFC 7296 §3.14): sealing a message's inner payloads and
 * opening them. AES-CBC with an HMAC integrity transform (§3.14), AES-GCM with a 16-octet ICV
 * (RFC 5282) and ChaCha20-Poly1305 (RFC 7634 §3). The IV is an argument, so output is
 * byte-exact and reproducible: §3.14 wants a fresh unpredictable IV per message for CBC; the
 * AEADs want a unique one per key (a counter does, RFC 5282 §3.1).
 */

import type { Aead, CryptoBackend, RawCipher } from '../crypto/backend.js';
import { AEAD_TAG } from '../crypto/backend.js';
import { backendNamed } from '../crypto/backends.js';
import { createIntegrity } from '../crypto/integrity.js';
import { encrSpec, integSpec } from '../crypto/suites.js';
import { ENCR, INTEG, type IntegId } from '../crypto/transformIds.js';
import type { CryptoBackendName, Integrity } from '../crypto/types.js';
import { concatBytes, fail, requireBytes, requireUint } from './codec.js';
import { encodeIkeMessage, decodeIkeMessage } from './message.js';
import { decodePayloadChain, encodePayloadChain } from './payloadChain.js';
import type { IkeHeader, IkeMessage, IkePayload, IkeResult } from './types.js';

/** The transforms protecting one IKE SA (§3.3.2): ENCR_AES_CBC + INTEG, or an AEAD + INTEG NONE. */
export interface SkTransforms {
  encr: number;
  encrKeyBits?: number;
  integ: number;
}

/** One direction's keys: SK_ei/SK_ai for messages the original initiator sends, SK_er/SK_ar back (§2.14). */
export interface SkKeys {
  /** The cipher key, followed by the 4-octet salt for AES-GCM (RFC 5282 §7.1) and ChaCha20-Poly1305 (RFC 7634 §3). */
  encKey: Uint8Array;
  integKey?: Uint8Array;
}

/** One direction's SK protection, keys prepared once per IKE SA. */
export interface SkCipher {
  readonly name: string;
  readonly backend: CryptoBackendName;
  readonly ivLength: number;
  /** Padding aligns payloads ‖ Padding ‖ Pad Length to this (§3.14 for CBC; 1: no alignment, RFC 5282 §3). */
  readonly blockSize: number;
  readonly icvLength: number;
  /** Seals `plaintext` (payloads ‖ Padding ‖ Pad Length); returns IV ‖ ciphertext ‖ ICV. `prefix` is the message up to the end of the SK header. */
  seal(prefix: Uint8Array, plaintext: Uint8Array, iv: Uint8Array): Uint8Array;
  /** Verifies and decrypts IV ‖ ciphertext ‖ ICV; undefined when it does not verify. */
  open(prefix: Uint8Array, body: Uint8Array): Uint8Array | undefined;
}

class CbcHmac implements SkCipher {
  readonly ivLength = 16;
  readonly blockSize = 16;
  readonly icvLength: number;
  constructor(readonly name: string, readonly backend: CryptoBackendName, private readonly cipher: RawCipher, private readonly integrity: Integrity) {
    this.icvLength = integrity.icvLength;
  }
  seal(prefix: Uint8Array, plaintext: Uint8Array, iv: Uint8Array): Uint8Array {
    const body = new Uint8Array(iv.length + plaintext.length + this.icvLength);
    body.set(iv, 0);
    const ct = body.subarray(iv.length, iv.length + plaintext.length);
    this.cipher.encrypt(iv, plaintext, ct);
    // §3.14: the checksum covers "the entire message starting with the Fixed IKE header through
    // the Pad Length", computed "over the encrypted message".
    this.integrity.computeInto([prefix, body.subarray(0, iv.length + plaintext.length)], body, iv.length + plaintext.length);
    return body;
  }
  open(prefix: Uint8Array, body: Uint8Array): Uint8Array | undefined {
    const ctLength = body.length - this.ivLength - this.icvLength;
    if (ctLength < this.blockSize || ctLength % this.blockSize !== 0) return undefined;
    const covered = body.subarray(0, this.ivLength + ctLength);
    if (!this.integrity.verify([prefix, covered], body.subarray(this.ivLength + ctLength))) return undefined;
    const out = new Uint8Array(ctLength);
    this.cipher.decrypt(body.subarray(0, this.ivLength), body.subarray(this.ivLength, this.ivLength + ctLength), out);
    return out;
  }
}

class AeadSk implements SkCipher {
  readonly ivLength = 8;
  readonly blockSize = 1;
  readonly icvLength = AEAD_TAG;
  constructor(readonly name: string, readonly backend: CryptoBackendName, private readonly aead: Aead, private readonly salt: Uint8Array) {}
  // RFC 5282 §4, RFC 7634 §3 (as §2 of RFC 7634 for ESP): nonce = salt ‖ IV.
  #nonce(iv: Uint8Array): Uint8Array {
    return concatBytes([this.salt, iv]);
  }
  seal(prefix: Uint8Array, plaintext: Uint8Array, iv: Uint8Array): Uint8Array {
    const body = new Uint8Array(iv.length + plaintext.length + AEAD_TAG);
    body.set(iv, 0);
    // RFC 5282 §5.1: the associated data runs "from the first octet of the Fixed IKE Header
    // through the last octet of the Payload Header of the Encrypted Payload".
    this.aead.seal(this.#nonce(iv), prefix, plaintext, body.subarray(iv.length));
    return body;
  }
  open(prefix: Uint8Array, body: Uint8Array): Uint8Array | undefined {
    if (body.length < this.ivLength + 1 + AEAD_TAG) return undefined;
    const sealed = body.subarray(this.ivLength);
    const out = new Uint8Array(sealed.length - AEAD_TAG);
    return this.aead.open(this.#nonce(body.subarray(0, this.ivLength)), prefix, sealed, out) ? out : undefined;
  }
}

/**
 * Prepares one direction's SK protection. Throws RangeError naming the argument for a
 * transform SK does not support here (AES-CTR, NULL, GMAC, CCM), a combined mode with an
 * integrity transform or a CBC one without, or keys of the wrong length.
 *
 * @example
 * const outbound = createSkCipher({ encr: ENCR.AES_GCM_16, encrKeyBits: 256, integ: INTEG.NONE }, { encKey: keys.skEi });
 */
export function createSkCipher(transforms: SkTransforms, keys: SkKeys, backend: CryptoBackend | CryptoBackendName = 'node'): SkCipher {
  const impl = typeof backend === 'string' ? backendNamed(backend) : backend;
  const { spec, keyBits } = encrSpec(transforms.encr, transforms.encrKeyBits);
  const keyLength = keyBits / 8 + spec.saltLength;
  requireBytes(keys.encKey, 'keys.encKey', keyLength, keyLength);
  const key = keys.encKey.subarray(0, keyBits / 8);
  if (transforms.encr === ENCR.AES_GCM_16 || transforms.encr === ENCR.CHACHA20_POLY1305) {
    // RFC 5282 §8 / RFC 7634 §4: combined modes negotiate no integrity transform.
    if (transforms.integ !== INTEG.NONE) throw new RangeError(`transforms.integ: must be NONE with the combined mode ${spec.name(keyBits)}`);
    const aead = impl.aead(transforms.encr === ENCR.AES_GCM_16 ? 'aes-gcm' : 'chacha20-poly1305', key);
    return new AeadSk(spec.name(keyBits), impl.name, aead, keys.encKey.slice(keyBits / 8));
  }
  if (transforms.encr !== ENCR.AES_CBC) throw new RangeError(`transforms.encr: ${transforms.encr} is not an SK cipher here (AES-CBC 12, AES-GCM-16 20, ChaCha20-Poly1305 28)`);
  if (transforms.integ === INTEG.NONE) throw new RangeError('transforms.integ: AES-CBC needs an integrity transform (RFC 7296 §3.3.3)');
  const integ = integSpec(transforms.integ);
  requireBytes(keys.integKey, 'keys.integKey', integ.keyLength, integ.keyLength);
  const integrity = createIntegrity(transforms.integ as IntegId, keys.integKey, impl);
  return new CbcHmac(`${spec.name(keyBits)}-${integ.name}`, impl.name, impl.rawCipher('aes-cbc', key), integrity);
}

/** What `protectIkeMessage` seals. */
export interface ProtectInput {
  header: IkeHeader;
  /** The payloads inside SK {...}, in order. */
  payloads: IkePayload[];
  /** Payloads sent in the clear before SK (rare; empty by default). */
  clearPayloads?: IkePayload[];
  /** `cipher.ivLength` octets. */
  iv: Uint8Array;
  /** Octets of Padding; default the minimum (§3.14: "SHOULD set the Pad Length to the minimum value"). */
  padLength?: number;
}

/**
 * Builds a whole protected message: header, clear payloads, then SK {payloads} sealed with
 * `cipher` and `input.iv`. Padding octets are zero (§3.14: "MAY contain any value"). Throws
 * naming the argument on misuse (IV of the wrong length, a pad length that breaks alignment).
 *
 * @example
 * const bytes = protectIkeMessage({ header, payloads: [idi, auth, sa, tsi, tsr], iv: random.bytes(16) }, outbound);
 */
export function protectIkeMessage(input: ProtectInput, cipher: SkCipher): Uint8Array {
  requireBytes(input.iv, 'input.iv', cipher.ivLength, cipher.ivLength);
  const inner = encodePayloadChain(input.payloads, 'input.payloads', { response: input.header?.response === true, insideSk: true });
  const minimum = (cipher.blockSize - ((inner.bytes.length + 1) % cipher.blockSize)) % cipher.blockSize;
  const padLength = input.padLength ?? minimum;
  requireUint(padLength, 0xff, 'input.padLength');
  if ((inner.bytes.length + padLength + 1) % cipher.blockSize !== 0) {
    throw new RangeError(`input.padLength: ${padLength} does not align the plaintext to ${cipher.blockSize} octets (RFC 7296 §3.14)`);
  }
  const plaintext = new Uint8Array(inner.bytes.length + padLength + 1);
  plaintext.set(inner.bytes, 0);
  plaintext[plaintext.length - 1] = padLength;
  const bodyLength = cipher.ivLength + plaintext.length + cipher.icvLength;
  const sk: IkePayload = { type: 'SK', firstPayload: inner.firstType, body: new Uint8Array(bodyLength) };
  const message = encodeIkeMessage({ header: input.header, payloads: [...(input.clearPayloads ?? []), sk] });
  const bodyStart = message.length - bodyLength;
  message.set(cipher.seal(message.subarray(0, bodyStart), plaintext, input.iv), bodyStart);
  return message;
}

/** An opened message: the header, the inner payloads, and any clear payloads before SK. */
export interface UnprotectedMessage {
  /** `payloads` are the payloads that were inside SK {...}. */
  message: IkeMessage;
  clearPayloads: IkePayload[];
}

/**
 * Decodes a protected message and opens its SK payload. Never throws on content. Failures:
 * the decoder's own (unauthenticated); `authFailed` when there is no SK payload to verify or it
 * does not verify (drop silently, §2.21); after the ICV verified, `badPadding` or a malformed
 * inner payload, marked `authenticated: true` (these may be answered with INVALID_SYNTAX). For
 * inner failures `at` is where the octet sits in the message's ciphertext.
 *
 * @example
 * const r = unprotectIkeMessage(datagram, inbound);
 * if (r.ok) for (const p of r.message.payloads) ...
 */
export function unprotectIkeMessage(bytes: Uint8Array, cipher: SkCipher): IkeResult<UnprotectedMessage> {
  const d = decodeIkeMessage(bytes);
  if (!d.ok) return d;
  const { header, payloads } = d.message;
  const sk = payloads[payloads.length - 1];
  if (sk?.type !== 'SK') {
    const detail = sk?.type === 'SKF' ? 'an Encrypted Fragment payload: reassembly is not implemented' : 'no Encrypted payload';
    return fail('authFailed', bytes.length, detail, { header });
  }
  const bodyStart = bytes.length - sk.body.length;
  const plaintext = cipher.open(bytes.subarray(0, bodyStart), sk.body);
  if (plaintext === undefined) return fail('authFailed', bodyStart, 'the Encrypted payload did not verify', { header });
  const ctStart = bodyStart + cipher.ivLength;
  const padLength = plaintext[plaintext.length - 1]!;
  if (padLength + 1 > plaintext.length) {
    return fail('badPadding', ctStart + plaintext.length - 1, `Pad Length ${padLength} exceeds the plaintext`, { header, authenticated: true });
  }
  const innerLength = plaintext.length - 1 - padLength;
  const inner = decodePayloadChain(plaintext, sk.firstPayload, 0, innerLength, { insideSk: true });
  if (!inner.ok) return { ...inner, at: ctStart + inner.at, header, authenticated: true };
  return { ok: true, message: { header, payloads: inner.payloads }, clearPayloads: payloads.slice(0, -1) };
}
