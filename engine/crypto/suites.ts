import { requireRange } from '../errors.js';
import type { HashAlgorithm } from './backend.js';
import { ENCR, INTEG, type EncrId, type IntegId } from './transformIds.js';

/** What an integrity transform needs: the hash, its key size and its truncated ICV size. */
export interface IntegSpec {
  readonly hash: HashAlgorithm;
  readonly keyLength: number;
  readonly icvLength: number;
  /** strongSwan's proposal keyword. */
  readonly name: string;
}

/** RFC 2403, RFC 2404, RFC 4868 §2.1: key sizes and ICV truncations. */
export const INTEG_SPECS: Readonly<Record<Exclude<IntegId, 0>, IntegSpec>> = {
  [INTEG.HMAC_MD5_96]: { hash: 'md5', keyLength: 16, icvLength: 12, name: 'md5' },
  [INTEG.HMAC_SHA1_96]: { hash: 'sha1', keyLength: 20, icvLength: 12, name: 'sha1' },
  [INTEG.HMAC_SHA2_256_128]: { hash: 'sha256', keyLength: 32, icvLength: 16, name: 'sha256' },
  [INTEG.HMAC_SHA2_384_192]: { hash: 'sha384', keyLength: 48, icvLength: 24, name: 'sha384' },
  [INTEG.HMAC_SHA2_512_256]: { hash: 'sha512', keyLength: 64, icvLength: 32, name: 'sha512' },
};

/** What an encryption transform needs on the wire and in its KEYMAT. */
export interface EncrSpec {
  /** AES key sizes in bits allowed; `[0]` for no key (NULL), `[256]` for ChaCha20. */
  readonly keyBits: readonly number[];
  /** Salt/nonce octets appended to the key in KEYMAT. */
  readonly saltLength: number;
  readonly ivLength: number;
  /** RFC 4303 §2.4: pad to the cipher's block size, and to 4 octets at least. */
  readonly padAlign: number;
  /** Combined mode: ICV length of the mode; integrity transform must be NONE. */
  readonly combinedIcv?: number;
  readonly confidential: boolean;
  /** RFC 3602 §2.3: CBC needs unpredictable IVs; the counter modes need unique ones only. */
  readonly ivUnpredictable: boolean;
  readonly name: (keyBits: number) => string;
}

export const ENCR_SPECS: Readonly<Record<EncrId, EncrSpec>> = {
  // RFC 2410 §2: no IV, no key, block size 1.
  [ENCR.NULL]: { keyBits: [0], saltLength: 0, ivLength: 0, padAlign: 4, ivUnpredictable: false, confidential: false, name: () => 'null' },
  // RFC 3602 §2.1, §2.3: 16-octet explicit IV, 16-octet blocks.
  [ENCR.AES_CBC]: { keyBits: [128, 192, 256], saltLength: 0, ivLength: 16, padAlign: 16, ivUnpredictable: true, confidential: true, name: (b) => `aes${b}` },
  // RFC 3686 §3.1, §5.1: 8-octet IV, 4-octet nonce after the key; padding to 4 octets.
  [ENCR.AES_CTR]: { keyBits: [128, 192, 256], saltLength: 4, ivLength: 8, padAlign: 4, ivUnpredictable: false, confidential: true, name: (b) => `aes${b}ctr` },
  // RFC 4106 §3.1, §8.1: 8-octet IV, 4-octet salt, 16-octet ICV.
  [ENCR.AES_GCM_16]: { keyBits: [128, 192, 256], saltLength: 4, ivLength: 8, padAlign: 4, combinedIcv: 16, ivUnpredictable: false, confidential: true, name: (b) => `aes${b}gcm16` },
  // RFC 4543 §3.1, §5: as GCM, but the payload is authenticated only.
  [ENCR.NULL_AUTH_AES_GMAC]: { keyBits: [128, 192, 256], saltLength: 4, ivLength: 8, padAlign: 4, combinedIcv: 16, ivUnpredictable: false, confidential: false, name: (b) => `aes${b}gmac` },
  // RFC 7634 §2, §4: 256-bit key, 4-octet salt, 8-octet IV, 16-octet tag.
  [ENCR.CHACHA20_POLY1305]: { keyBits: [256], saltLength: 4, ivLength: 8, padAlign: 4, combinedIcv: 16, ivUnpredictable: false, confidential: true, name: () => 'chacha20poly1305' },
};

/**
 * Looks up and validates an encryption transform and key size; RangeError naming the argument
 * on anything unknown.
 *
 * @example
 * const { spec, keyBits } = encrSpec(ENCR.AES_GCM_16, 128);
 */
export function encrSpec(encr: number, encrKeyBits: number | undefined): { spec: EncrSpec; keyBits: number } {
  const spec = (ENCR_SPECS as Record<number, EncrSpec | undefined>)[encr];
  requireRange(spec !== undefined, 'encr', `unknown or unsupported ESP encryption transform ${encr}`);
  const only = spec.keyBits.length === 1 ? spec.keyBits[0]! : undefined;
  const keyBits = encrKeyBits ?? only;
  requireRange(
    keyBits !== undefined && spec.keyBits.includes(keyBits),
    'encrKeyBits',
    `must be one of ${spec.keyBits.join(', ')} for transform ${encr}, got ${encrKeyBits}`,
  );
  return { spec, keyBits };
}

/**
 * Looks up an integrity transform; RangeError naming `integ` when unknown.
 *
 * @example
 * integSpec(INTEG.HMAC_SHA2_256_128).icvLength // 16
 */
export function integSpec(integ: number): IntegSpec {
  const spec = (INTEG_SPECS as Record<number, IntegSpec | undefined>)[integ];
  requireRange(spec !== undefined, 'integ', `unknown or unsupported integrity transform ${integ}`);
  return spec;
}
