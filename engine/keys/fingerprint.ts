import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../bytes.js';

const LABEL = new TextEncoder().encode('ipsec-es key fingerprint v1\0');

/**
 * What facts carry instead of keys (DESIGN §3): a short, one-way fingerprint that tells whether
 * the key store holds the same key, and nothing about the key. SA keys are ≥ 128 random bits,
 * so a hash cannot be searched back.
 *
 * @example
 * keyFingerprint(encKey, integKey) // 'sha256:3f1c…' (32 hex digits)
 */
export function keyFingerprint(...parts: Uint8Array[]): string {
  const h = sha256.create().update(LABEL);
  for (const p of parts) h.update(Uint8Array.of(p.length >> 8, p.length & 0xff)).update(p);
  return `sha256:${toHex(h.digest().subarray(0, 16))}`;
}
