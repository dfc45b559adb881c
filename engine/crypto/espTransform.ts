import { writeU32 } from '../bytes.js';
import { requireRange } from '../errors.js';
import { AEAD_TAG, type Aead, type CryptoBackend, type RawCipher } from './backend.js';
import { backendNamed } from './backends.js';
import { createIntegrity } from './integrity.js';
import { createNativeEspTransform } from './nativeBackend.js';
import { nodeBackend } from './nodeBackend.js';
import { encrSpec, integSpec, type EncrSpec } from './suites.js';
import { ENCR, INTEG } from './transformIds.js';
import type { CryptoBackendName, EspKeys, EspSuiteSpec, EspTransform, Integrity } from './types.js';

const ESP_HEADER = 8;

/**
 * Prepares an ESP transform for one SA: key objects, keyed HMAC state, nonce and AAD scratch
 * space, so nothing is derived per packet. Refuses ESP without integrity (a packet must carry
 * authentication: RFC 4303 §3.2 allows confidentiality-only ESP, this framework does not).
 *
 * @example
 * const t = createEspTransform({ encr: ENCR.AES_GCM_16, encrKeyBits: 128, integ: INTEG.NONE },
 *   { encKey: keymat20 });
 */
export function createEspTransform(
  suite: EspSuiteSpec,
  keys: EspKeys,
  backend: CryptoBackend | CryptoBackendName = 'node',
): EspTransform {
  let impl = typeof backend === 'string' ? backendNamed(backend) : backend;
  const { spec, keyBits } = encrSpec(suite.encr, suite.encrKeyBits);
  const keyLength = keyBits / 8 + spec.saltLength;
  requireRange(
    keys.encKey.length === keyLength,
    'encKey',
    `must be ${keyLength} bytes (${keyBits}-bit key${spec.saltLength ? ` + ${spec.saltLength}-byte salt` : ''}), got ${keys.encKey.length}`,
  );
  if (spec.combinedIcv !== undefined) {
    // RFC 4106 §8 / RFC 7634 §4: combined modes take no separate integrity transform.
    requireRange(suite.integ === INTEG.NONE, 'integ', `must be NONE with the combined mode ${spec.name(keyBits)}`);
  } else {
    requireRange(
      suite.integ !== INTEG.NONE,
      'integ',
      'ESP without integrity or a combined mode is refused: every packet must carry authentication',
    );
    requireRange(keys.integKey !== undefined, 'integKey', `is required with integrity transform ${suite.integ}`);
    const integ = integSpec(suite.integ);
    requireRange(keys.integKey.length === integ.keyLength, 'integKey', `must be ${integ.keyLength} bytes for ${integ.name}, got ${keys.integKey.length}`);
  }
  if (impl.name === 'native') {
    // The whole transform in C when the addon offers the suite; otherwise this file's framing
    // over node primitives (the same OpenSSL), and `backend` says 'node'.
    const native = createNativeEspTransform(suite, keys);
    if (native !== undefined) return native;
    impl = nodeBackend;
  }
  const key = keys.encKey.subarray(0, keyBits / 8);
  const salt = keys.encKey.subarray(keyBits / 8);
  if (spec.combinedIcv !== undefined) {
    const aead = impl.aead(suite.encr === ENCR.CHACHA20_POLY1305 ? 'chacha20-poly1305' : 'aes-gcm', key);
    const name = spec.name(keyBits);
    return spec.confidential
      ? new AeadEsp(name, impl.name, spec, aead, salt)
      : new GmacEsp(name, impl.name, spec, aead, salt);
  }
  const integrity = createIntegrity(suite.integ, keys.integKey!, impl);
  const cipher = suite.encr === ENCR.NULL ? undefined : impl.rawCipher(suite.encr === ENCR.AES_CBC ? 'aes-cbc' : 'aes-ctr', key);
  return new CipherThenMacEsp(spec, keyBits, impl.name, cipher, salt, integrity);
}

/** Writes SPI ‖ Seq_hi ‖ Seq_lo into `aad` (RFC 4106 §5, RFC 7634 §2.1 ESN layout). */
function esnAad(esp: Uint8Array, seqHi: number, aad: Uint8Array): Uint8Array {
  aad.set(esp.subarray(0, 4), 0);
  writeU32(aad, 4, seqHi);
  aad.set(esp.subarray(4, 8), 8);
  return aad;
}

abstract class Base {
  abstract seal(esp: Uint8Array, seqHi: number | undefined): void;
  abstract open(esp: Uint8Array, seqHi: number | undefined): boolean;
  readonly ivLength: number;
  readonly padAlign: number;
  abstract readonly icvLength: number;
  readonly confidential: boolean;
  readonly ivUnpredictable: boolean;
  constructor(
    readonly name: string,
    readonly backend: CryptoBackendName,
    spec: EncrSpec,
    readonly combined: boolean,
  ) {
    this.ivLength = spec.ivLength;
    this.padAlign = spec.padAlign;
    this.confidential = spec.confidential;
    this.ivUnpredictable = spec.ivUnpredictable;
  }
  sealBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined): void {
    for (let i = 0; i < count; i++) this.seal(esps[i]!, seqHis?.[i]);
  }
  openBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined, ok: Uint8Array): void {
    for (let i = 0; i < count; i++) ok[i] = this.open(esps[i]!, seqHis?.[i]) ? 1 : 0;
  }
  /** Nothing to free: the keys live in objects the GC owns. */
  dispose(): void {}
}

/** AES-GCM (RFC 4106) and ChaCha20-Poly1305 (RFC 7634): nonce = salt ‖ IV, AAD = SPI ‖ Seq. */
class AeadEsp extends Base implements EspTransform {
  readonly icvLength = AEAD_TAG;
  readonly #nonce = new Uint8Array(12);
  readonly #aad = new Uint8Array(12);
  constructor(name: string, backend: CryptoBackendName, spec: EncrSpec, private readonly aead: Aead, salt: Uint8Array) {
    super(name, backend, spec, true);
    this.#nonce.set(salt, 0); // RFC 4106 §4: the salt is the nonce's first 4 octets
  }
  #prepare(esp: Uint8Array, seqHi: number | undefined): Uint8Array {
    const nonce = this.#nonce;
    for (let i = 0; i < 8; i++) nonce[4 + i] = esp[ESP_HEADER + i]!; // IV, without a view per packet
    return seqHi === undefined ? esp.subarray(0, ESP_HEADER) : esnAad(esp, seqHi, this.#aad);
  }
  seal(esp: Uint8Array, seqHi: number | undefined): void {
    const aad = this.#prepare(esp, seqHi);
    const body = esp.subarray(ESP_HEADER + 8);
    this.aead.seal(this.#nonce, aad, body.subarray(0, body.length - AEAD_TAG), body);
  }
  open(esp: Uint8Array, seqHi: number | undefined): boolean {
    if (esp.length < ESP_HEADER + 8 + AEAD_TAG) return false;
    const aad = this.#prepare(esp, seqHi);
    const body = esp.subarray(ESP_HEADER + 8);
    return this.aead.open(this.#nonce, aad, body, body);
  }
}

/** AES-GMAC (RFC 4543 §3.3): AAD = SPI ‖ Seq ‖ IV ‖ payload ‖ trailer, empty plaintext. */
class GmacEsp extends Base implements EspTransform {
  readonly icvLength = AEAD_TAG;
  readonly #nonce = new Uint8Array(12);
  static readonly #empty = new Uint8Array(0);
  constructor(name: string, backend: CryptoBackendName, spec: EncrSpec, private readonly aead: Aead, salt: Uint8Array) {
    super(name, backend, spec, true);
    this.#nonce.set(salt, 0);
  }
  #aad(esp: Uint8Array, seqHi: number | undefined): Uint8Array {
    this.#nonce.set(esp.subarray(ESP_HEADER, ESP_HEADER + 8), 4);
    const authenticated = esp.subarray(0, esp.length - AEAD_TAG);
    if (seqHi === undefined) return authenticated;
    // RFC 4543 §3.3: with ESN, Seq_hi sits between the SPI and Seq_lo in the AAD.
    const aad = new Uint8Array(authenticated.length + 4);
    esnAad(esp, seqHi, aad);
    aad.set(authenticated.subarray(ESP_HEADER), 12);
    return aad;
  }
  seal(esp: Uint8Array, seqHi: number | undefined): void {
    const aad = this.#aad(esp, seqHi);
    this.aead.seal(this.#nonce, aad, GmacEsp.#empty, esp.subarray(esp.length - AEAD_TAG));
  }
  open(esp: Uint8Array, seqHi: number | undefined): boolean {
    if (esp.length < ESP_HEADER + 8 + AEAD_TAG) return false;
    const aad = this.#aad(esp, seqHi);
    return this.aead.open(this.#nonce, aad, esp.subarray(esp.length - AEAD_TAG), GmacEsp.#empty);
  }
}

/** AES-CBC (RFC 3602), AES-CTR (RFC 3686) or NULL (RFC 2410), then HMAC over the result. */
class CipherThenMacEsp extends Base implements EspTransform {
  readonly icvLength: number;
  readonly #counterBlock = new Uint8Array(16);
  readonly #seqHi = new Uint8Array(4);
  readonly #isCtr: boolean;
  constructor(
    spec: EncrSpec,
    keyBits: number,
    backend: CryptoBackendName,
    private readonly cipher: RawCipher | undefined,
    nonce: Uint8Array,
    private readonly integrity: Integrity,
  ) {
    super(`${spec.name(keyBits)}-${integSpec(integrity.id).name}`, backend, spec, false);
    this.icvLength = integrity.icvLength;
    this.#isCtr = spec.saltLength === 4;
    // RFC 3686 §4: counter block = nonce ‖ IV ‖ block counter starting at 1.
    this.#counterBlock.set(nonce, 0);
    this.#counterBlock[15] = 1;
  }
  #iv(esp: Uint8Array): Uint8Array {
    const iv = esp.subarray(ESP_HEADER, ESP_HEADER + this.ivLength);
    if (!this.#isCtr) return iv;
    this.#counterBlock.set(iv, 4);
    return this.#counterBlock;
  }
  /** RFC 4303 §2.2.1 / §3.3.2.1: with ESN, Seq_hi is appended (implicitly) for the ICV only. */
  #macParts(esp: Uint8Array, seqHi: number | undefined): Uint8Array[] {
    const covered = esp.subarray(0, esp.length - this.icvLength);
    if (seqHi === undefined) return [covered];
    writeU32(this.#seqHi, 0, seqHi);
    return [covered, this.#seqHi];
  }
  seal(esp: Uint8Array, seqHi: number | undefined): void {
    const end = esp.length - this.icvLength;
    if (this.cipher) {
      const data = esp.subarray(ESP_HEADER + this.ivLength, end);
      this.cipher.encrypt(this.#iv(esp), data, data);
    }
    this.integrity.computeInto(this.#macParts(esp, seqHi), esp, end);
  }
  open(esp: Uint8Array, seqHi: number | undefined): boolean {
    const end = esp.length - this.icvLength;
    if (end < ESP_HEADER + this.ivLength) return false;
    // RFC 4303 §3.4.4.1: verify the ICV before decrypting.
    if (!this.integrity.verify(this.#macParts(esp, seqHi), esp.subarray(end))) return false;
    if (this.cipher) {
      const data = esp.subarray(ESP_HEADER + this.ivLength, end);
      if (data.length % this.padAlign !== 0) return false;
      this.cipher.decrypt(this.#iv(esp), data, data);
    }
    return true;
  }
}
