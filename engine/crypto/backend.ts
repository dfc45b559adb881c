import type { CryptoBackendName } from './types.js';

export type AeadAlgorithm = 'aes-gcm' | 'chacha20-poly1305';
export type RawCipherAlgorithm = 'aes-cbc' | 'aes-ctr';
export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** AEAD tag length for every combined mode ESP uses here (RFC 4106 ICV 16, RFC 7634 §2). */
export const AEAD_TAG = 16;

/** An AEAD with its key prepared. 12-octet nonces, 16-octet tags. */
export interface Aead {
  /** Writes ciphertext ‖ tag to `out` (length ≥ plaintext + 16); `out` may start at `plaintext`'s first byte. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * Verifies `sealed` (= ciphertext ‖ tag) and only then writes the plaintext to `out`
   * (which may start at `sealed`'s first byte). False, with `out` untouched, on a bad tag.
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): boolean;
}

/** A block or stream cipher without padding, key prepared. `data` is a whole number of blocks for CBC. */
export interface RawCipher {
  encrypt(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  decrypt(iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
}

/** A keyed MAC prepared once: `compute` returns the full-length tag over the parts, in order. */
export interface Mac {
  compute(parts: readonly Uint8Array[]): Uint8Array;
}

/**
 * The arithmetic a back end provides; everything IPsec-specific (nonce layout, AAD, ICV
 * truncation, ESN) is built once on top of it in `espTransform.ts` and `integrity.ts`, so the
 * two back ends cannot disagree on framing.
 */
export interface CryptoBackend {
  readonly name: CryptoBackendName;
  aead(algorithm: AeadAlgorithm, key: Uint8Array): Aead;
  rawCipher(algorithm: RawCipherAlgorithm, key: Uint8Array): RawCipher;
  mac(hash: HashAlgorithm, key: Uint8Array): Mac;
}
