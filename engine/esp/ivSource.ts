import { writeU32 } from '../bytes.js';
import type { EspTransform } from '../crypto/types.js';

/**
 * Fills the IV of one outgoing packet. It gets the packet's 64-bit sequence number, so a
 * counter IV needs no state of its own. Sources never allocate per packet.
 */
export type IvSource = (iv: Uint8Array, seqHi: number, seqLo: number, transform: EspTransform) => void;

/**
 * IV = the 64-bit sequence number, zero-extended: unique per key for as long as the SA lives,
 * which is all GCM (RFC 4106 §3.1), GMAC, CTR (RFC 3686 §3.1) and ChaCha20-Poly1305
 * (RFC 7634 §2) require, with no birthday bound (a random 64-bit IV collides after ~2^32).
 *
 * @example
 * encapsulate(inner, sa, sequenceIv);
 */
export const sequenceIv: IvSource = (iv, seqHi, seqLo) => {
  if (iv.length < 8) return; // ENCR_NULL carries no IV (RFC 2410 §2)
  iv.fill(0);
  writeU32(iv, iv.length - 8, seqHi);
  writeU32(iv, iv.length - 4, seqLo);
};

/**
 * IVs cut from a pool of random bytes refilled `poolSize` bytes at a time, so a CSPRNG call is
 * paid once per few hundred packets. `fill` is the random source (the engine has none of its
 * own): `crypto.getRandomValues` or the `Random` port.
 *
 * @example
 * const iv = pooledRandomIv((b) => crypto.getRandomValues(b));
 */
export function pooledRandomIv(fill: (bytes: Uint8Array) => void, poolSize = 4096): IvSource {
  const pool = new Uint8Array(poolSize);
  let used = poolSize;
  return (iv) => {
    if (used + iv.length > poolSize) {
      fill(pool);
      used = 0;
    }
    iv.set(pool.subarray(used, used + iv.length));
    used += iv.length;
  };
}

/**
 * The IV source a gateway uses: unpredictable IVs from a random pool where the cipher needs them
 * (CBC, RFC 3602 §2.3), the sequence number everywhere else.
 *
 * @example
 * const ivs = standardIvSource((b) => crypto.getRandomValues(b));
 */
export function standardIvSource(fill: (bytes: Uint8Array) => void): IvSource {
  const random = pooledRandomIv(fill);
  return (iv, seqHi, seqLo, transform) =>
    transform.ivUnpredictable ? random(iv, seqHi, seqLo, transform) : sequenceIv(iv, seqHi, seqLo, transform);
}

/**
 * Always the same IV: for known-answer vectors only. Never use it on a live SA.
 *
 * @example
 * encapsulate(inner, sa, fixedIv(fromHex('4956ed7e3b244cfe')));
 */
export function fixedIv(value: Uint8Array): IvSource {
  return (iv) => iv.set(value.subarray(0, iv.length));
}
