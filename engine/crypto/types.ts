import type { EncrId, IntegId } from './transformIds.js';

/**
 * Which implementation does the arithmetic: `node:crypto` (OpenSSL), `@noble/*` (portable), or
 * `native`: the ESP transform in C over Node's OpenSSL, whole batches per call (an optional
 * addon, engine/crypto/nativeBackend.ts).
 */
export type CryptoBackendName = 'node' | 'noble' | 'native';

/** An integrity algorithm with its key, prepared once per SA. */
export interface Integrity {
  readonly id: IntegId;
  /** Bytes of the truncated ICV (e.g. 12 for HMAC-SHA1-96, 16 for HMAC-SHA2-256-128). */
  readonly icvLength: number;
  /**
   * Computes the truncated ICV over the concatenation of `parts` and writes it to
   * `out[outOffset .. outOffset + icvLength)`. The parts are read, never kept.
   */
  computeInto(parts: readonly Uint8Array[], out: Uint8Array, outOffset: number): void;
  /** True when the truncated ICV over `parts` equals `icv` (compared in constant time). */
  verify(parts: readonly Uint8Array[], icv: Uint8Array): boolean;
}

/** What an ESP SA is keyed with: an encryption and an integrity transform (RFC 4303 §3.2). */
export interface EspSuiteSpec {
  encr: EncrId;
  /** AES key size in bits (128, 192, 256); required for the AES transforms, ignored otherwise. */
  encrKeyBits?: number;
  /** `INTEG.NONE` with combined modes (GCM, GMAC, ChaCha20-Poly1305). */
  integ: IntegId;
}

/**
 * The key material of an ESP SA, as IKEv2 derives it (RFC 7296 §2.17): for AES-GCM, AES-GMAC,
 * AES-CTR and ChaCha20-Poly1305 `encKey` is the key followed by its 4-octet salt/nonce
 * (RFC 4106 §8.1, RFC 4543 §5, RFC 3686 §5.1, RFC 7634 §2).
 */
export interface EspKeys {
  encKey: Uint8Array;
  integKey?: Uint8Array;
}

/**
 * An ESP transform (cipher + integrity, or a combined mode) with its keys prepared at SA
 * creation. It works in place on the ESP part of a packet, laid out as RFC 4303 §2:
 *
 *   esp[0..4) SPI · esp[4..8) Sequence Number (low 32 bits) · esp[8..8+ivLength) IV ·
 *   payload ‖ padding ‖ Pad Length ‖ Next Header · esp[len-icvLength..len) ICV
 *
 * `seqHi` is the high 32 bits of an extended sequence number, or `undefined` without ESN: it
 * enters the ICV/AAD but never the wire (RFC 4303 §2.2.1, RFC 4106 §5, RFC 7634 §2.1).
 * Buffer ownership: the transform reads and writes `esp` only during the call.
 */
export interface EspTransform {
  /** Short name, strongSwan's spelling where there is one, e.g. `aes128gcm16`, `aes128-sha256`. */
  readonly name: string;
  readonly backend: CryptoBackendName;
  /** Octets of IV on the wire. */
  readonly ivLength: number;
  /** Payload ‖ padding ‖ Pad Length ‖ Next Header is padded to a multiple of this (RFC 4303 §2.4). */
  readonly padAlign: number;
  readonly icvLength: number;
  /** True for combined-mode (AEAD) transforms. */
  readonly combined: boolean;
  /** True when the payload is encrypted (false for ENCR_NULL and GMAC). */
  readonly confidential: boolean;
  /**
   * True when the IV must be unpredictable (CBC, RFC 3602 §2.3); false when it need only be
   * unique per key (GCM, GMAC, CTR, ChaCha20-Poly1305: a counter is the recommended choice).
   */
  readonly ivUnpredictable: boolean;
  /** Encrypts the plaintext region in place and writes the ICV (RFC 4303 §3.3.2, §3.3.4). */
  seal(esp: Uint8Array, seqHi: number | undefined): void;
  /**
   * Verifies the ICV and, only if it verifies, decrypts the ciphertext region in place
   * (RFC 4303 §3.4.4). Returns false when the ICV does not verify; never throws on content.
   */
  open(esp: Uint8Array, seqHi: number | undefined): boolean;
  /**
   * Seals `esps[0 .. count)` in place, each exactly as `seal(esps[i], seqHis?.[i])` would: one
   * native call per batch on the native back end, a loop elsewhere. `seqHis` is undefined
   * without ESN (issue 10: the per-call toll is paid once per batch, not per packet).
   */
  sealBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined): void;
  /**
   * Opens `esps[0 .. count)` in place, each exactly as `open` would; `ok[i]` becomes 1 when
   * packet i verified (and was decrypted), 0 when it did not (left as it was).
   */
  openBatch(esps: readonly Uint8Array[], count: number, seqHis: Uint32Array | undefined, ok: Uint8Array): void;
  /**
   * Frees what the transform holds outside the JS heap (the native back end's OpenSSL contexts
   * and keys) now, rather than when the GC collects it: call it when the SA is deleted. Any
   * later call throws. A no-op on the node and noble back ends.
   */
  dispose(): void;
}
