/**
 * The one table between PF_KEY algorithm numbers (pfkeyv2.h `SADB_EALG_*`, `SADB_AALG_*`) and
 * our IKEv2 transform ids (engine/crypto/transformIds.ts), with the key sizes a PF_KEY key
 * extension must carry for each.
 *
 * Keys: PF_KEY carries the whole KEYMAT of a transform in one KEY_ENCRYPT extension, so for the
 * counter and combined modes `sadb_key_bits` includes the 32-bit salt/nonce after the AES key
 * (Linux `rfc3686(ctr(aes))`, `rfc4106(gcm(aes))`, `rfc4543(gcm(aes))`; RFC 3686 §5.1,
 * RFC 4106 §8.1, RFC 4543 §5) — the same layout as our `EspKeys.encKey`. The SUPPORTED
 * extension advertises min/max bits as Linux xfrm_algo.c does (the AES key without salt, except
 * CTR, whose Linux entry counts the nonce).
 *
 * Integrity: PF_KEY has no way to say the truncation length. We use RFC 4868's (HMAC-SHA-256-128,
 * -384-192, -512-256); Linux through PF_KEY truncates SHA-256 to 96 bits (its pre-RFC 4868
 * default), so a Linux peer keyed over PF_KEY with SHA-256 will not interoperate.
 * ChaCha20-Poly1305 has no SADB number (Linux: `pfkey_supported = 0`), so it cannot be keyed
 * over PF_KEY.
 */

import { ENCR_SPECS, INTEG_SPECS } from '../crypto/suites.js';
import { ENCR, INTEG, type EncrId, type IntegId } from '../crypto/transformIds.js';
import { SADB_AALG, SADB_EALG } from './constants.js';
import type { Comb, SadbAlg } from './types.js';

export interface PfKeyEncrAlg {
  sadb: number;
  transform: EncrId;
  /** Octets of salt/nonce after the key in KEY_ENCRYPT. */
  saltOctets: number;
  /** `sadb_alg` as advertised in SUPPORTED_ENCRYPT. */
  supported: SadbAlg;
}

export interface PfKeyAuthAlg {
  sadb: number;
  transform: Exclude<IntegId, 0>;
  /** `sadb_alg` as advertised in SUPPORTED_AUTH. */
  supported: SadbAlg;
}

function encr(sadb: number, transform: EncrId, minbits: number, maxbits: number): PfKeyEncrAlg {
  const spec = ENCR_SPECS[transform];
  return { sadb, transform, saltOctets: spec.saltLength, supported: { id: sadb, ivlen: spec.ivLength, minbits, maxbits } };
}
function auth(sadb: number, transform: Exclude<IntegId, 0>): PfKeyAuthAlg {
  const bits = INTEG_SPECS[transform].keyLength * 8;
  return { sadb, transform, supported: { id: sadb, ivlen: 0, minbits: bits, maxbits: bits } };
}

/** SADB_EALG → IKEv2 ENCR, for every encryption transform we implement that PF_KEY can name. */
export const PFKEY_ENCR_ALGS: readonly PfKeyEncrAlg[] = [
  encr(SADB_EALG.NULL, ENCR.NULL, 0, 0),
  encr(SADB_EALG.X_AESCBC, ENCR.AES_CBC, 128, 256),
  encr(SADB_EALG.X_AESCTR, ENCR.AES_CTR, 160, 288),
  encr(SADB_EALG.X_AES_GCM_ICV16, ENCR.AES_GCM_16, 128, 256),
  encr(SADB_EALG.X_NULL_AES_GMAC, ENCR.NULL_AUTH_AES_GMAC, 128, 256),
];

/** SADB_AALG → IKEv2 INTEG, for every integrity transform we implement. */
export const PFKEY_AUTH_ALGS: readonly PfKeyAuthAlg[] = [
  auth(SADB_AALG.MD5HMAC, INTEG.HMAC_MD5_96),
  auth(SADB_AALG.SHA1HMAC, INTEG.HMAC_SHA1_96),
  auth(SADB_AALG.X_SHA2_256HMAC, INTEG.HMAC_SHA2_256_128),
  auth(SADB_AALG.X_SHA2_384HMAC, INTEG.HMAC_SHA2_384_192),
  auth(SADB_AALG.X_SHA2_512HMAC, INTEG.HMAC_SHA2_512_256),
];

/** The encryption entry for a `sadb_sa_encrypt`, or undefined when we do not implement it. */
export function encrBySadb(sadb: number): PfKeyEncrAlg | undefined {
  return PFKEY_ENCR_ALGS.find((a) => a.sadb === sadb);
}
/** The encryption entry for an IKEv2 ENCR id. */
export function encrByTransform(transform: number): PfKeyEncrAlg | undefined {
  return PFKEY_ENCR_ALGS.find((a) => a.transform === transform);
}
/** The integrity entry for a `sadb_sa_auth`, or undefined when we do not implement it. */
export function authBySadb(sadb: number): PfKeyAuthAlg | undefined {
  return PFKEY_AUTH_ALGS.find((a) => a.sadb === sadb);
}
/** The integrity entry for an IKEv2 INTEG id. */
export function authByTransform(transform: number): PfKeyAuthAlg | undefined {
  return PFKEY_AUTH_ALGS.find((a) => a.transform === transform);
}

/**
 * The AES (or other) key size in bits of a KEY_ENCRYPT carrying `keyOctets` octets for `alg`,
 * or undefined when no key size of the transform fits (the caller answers EINVAL).
 *
 * @example
 * encrKeyBits(encrBySadb(SADB_EALG.X_AES_GCM_ICV16)!, 20) // 128 (16-octet key + 4-octet salt)
 */
export function encrKeyBits(alg: PfKeyEncrAlg, keyOctets: number): number | undefined {
  const bits = (keyOctets - alg.saltOctets) * 8;
  return ENCR_SPECS[alg.transform].keyBits.includes(bits) ? bits : undefined;
}

/** The integrity key length in octets a transform needs. */
export function authKeyOctets(alg: PfKeyAuthAlg): number {
  return INTEG_SPECS[alg.transform].keyLength;
}

/** Linux `dump_esp_combs` lifetimes: hard/soft add 24 h/20 h, hard/soft use 8 h/7 h. */
const COMB_LIFETIMES = { softAddtime: 72000n, hardAddtime: 86400n, softUsetime: 25200n, hardUsetime: 28800n };

/**
 * Every (encryption, integrity) pair we implement, as Linux `dump_esp_combs` / `dump_ah_combs`
 * list them in an ACQUIRE's PROPOSAL; combined modes pair with no integrity.
 *
 * @example
 * defaultCombs('ah').map((c) => c.auth) // [2, 3, 5, 6, 7]
 */
export function defaultCombs(protocol: 'esp' | 'ah'): Comb[] {
  const comb = (auth: number, authBits: number, encrypt: number, encMin: number, encMax: number): Comb => ({
    auth,
    encrypt,
    flags: 0,
    authMinbits: authBits,
    authMaxbits: authBits,
    encryptMinbits: encMin,
    encryptMaxbits: encMax,
    softAllocations: 0,
    hardAllocations: 0,
    softBytes: 0n,
    hardBytes: 0n,
    ...COMB_LIFETIMES,
  });
  if (protocol === 'ah') return PFKEY_AUTH_ALGS.map((a) => comb(a.sadb, a.supported.maxbits, 0, 0, 0));
  const out: Comb[] = [];
  for (const e of PFKEY_ENCR_ALGS) {
    if (ENCR_SPECS[e.transform].combinedIcv !== undefined) out.push(comb(0, 0, e.sadb, e.supported.minbits, e.supported.maxbits));
    else for (const a of PFKEY_AUTH_ALGS) out.push(comb(a.sadb, a.supported.maxbits, e.sadb, e.supported.minbits, e.supported.maxbits));
  }
  return out;
}
